import type { Transport } from '@libp2p/interface'
import { forwarding } from '../core/wire/prepared-connections.js'

/** WebRTC-direct handshakes under way at most, for the whole process (a node has one listener). */
export const MAX_PENDING_HANDSHAKES = 64
/** And from one address: a tab's dial is one handshake at a time, and an office behind one NAT shares an address. */
export const MAX_PENDING_HANDSHAKES_PER_HOST = 16

/** The listener's handshakes: under way now, and refused since the start (for /metrics). */
export const WEBRTC_DIRECT_HANDSHAKES = { pending: 0, refused: 0 }

/** What guardedWebRTCDirect uses of @libp2p/webrtc's WebRTC-direct listener. */
interface DirectListener {
  connections?: Map<string, unknown>
  incomingConnection?: (ufrag: string, host: string, port: number, signal: AbortSignal) => Promise<void>
}

/**
 * @libp2p/webrtc's WebRTC-direct transport with its listener's handshakes
 * bounded. The listener (6.0) makes a native RTCPeerConnection for every
 * STUN request with a new address and ufrag, before any libp2p limit, and
 * keeps it until the handshake times out: one UDP packet, whose sender may be
 * forged, cost the node about 120 KB for 10 s (6,000 packets in under 3 s took
 * a node from 109 to 707 MB). A request past MAX_PENDING_HANDSHAKES, or past
 * MAX_PENDING_HANDSHAKES_PER_HOST from one address, is dropped before
 * anything is made; a browser's ICE sends it again, and it is taken once a
 * handshake ends. What is left: a flood of forged requests still keeps
 * honest WebRTC-direct handshakes out while it lasts (not the node's memory,
 * nor its other transports). A listener of another shape is left as it is
 * (object-mesh-hostile.test.ts then fails).
 */
export function guardedWebRTCDirect<C> (make: (components: C) => Transport): (components: C) => Transport {
  return components => {
    const transport = make(components)
    return forwarding(transport, {
      createListener: (options: Parameters<Transport['createListener']>[0]) => {
        const listener = transport.createListener(options)
        const l = listener as unknown as DirectListener
        const incoming = l.incomingConnection
        if (typeof incoming !== 'function' || !(l.connections instanceof Map)) return listener
        const perHost = new Map<string, number>()
        l.incomingConnection = async (ufrag, host, port, signal) => {
          // One under way for this address and ufrag: the listener drops the request itself.
          if (l.connections!.has(`${host}:${port}:${ufrag}`)) return
          if (WEBRTC_DIRECT_HANDSHAKES.pending >= MAX_PENDING_HANDSHAKES || (perHost.get(host) ?? 0) >= MAX_PENDING_HANDSHAKES_PER_HOST) {
            WEBRTC_DIRECT_HANDSHAKES.refused++
            return
          }
          WEBRTC_DIRECT_HANDSHAKES.pending++
          perHost.set(host, (perHost.get(host) ?? 0) + 1)
          try {
            await incoming.call(listener, ufrag, host, port, signal)
          } finally {
            WEBRTC_DIRECT_HANDSHAKES.pending--
            const left = perHost.get(host)! - 1
            if (left === 0) perHost.delete(host)
            else perHost.set(host, left)
          }
        }
        return listener
      },
    })
  }
}
