import { createSocket } from 'node:dgram'

/**
 * A UDP port free on every IPv4 address at this moment, chosen by the kernel.
 *
 * WebRTC-direct cannot listen on port 0 itself: @libp2p/webrtc then asks get-port for one, which checks
 * TCP only, so it may hand libjuice a port some UDP socket holds (a busy machine hit it: "UDP socket binding
 * failed"). The kernel's own pick for a UDP socket bound on all addresses has no such gap; what is left is the
 * moment between closing this socket and libjuice binding the port.
 */
export async function freeUdpPort (signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted()
  const socket = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, () => { socket.off('error', reject); resolve() })
    })
    return socket.address().port
  } finally {
    await new Promise<void>(resolve => { socket.close(() => { resolve() }) })
  }
}
