/** How a connection travels, from its remote multiaddr: what the console draws and the members API reports. */
export type TransportKind = 'webrtc' | 'relay' | 'websockets' | 'tcp' | 'other'

export function transportKind (remoteAddr: string): TransportKind {
  // A WebRTC connection is negotiated through a relay: its address has both, and it is WebRTC.
  if (remoteAddr.includes('/webrtc')) return 'webrtc'
  if (remoteAddr.includes('/p2p-circuit')) return 'relay'
  if (remoteAddr.includes('/ws') || remoteAddr.includes('/wss')) return 'websockets'
  if (remoteAddr.includes('/tcp/')) return 'tcp'
  return 'other'
}

/** Each connected peer's connection kinds (a peer may have more than one connection). */
export function connectionKinds (connections: Array<{ remotePeer: { toString: () => string }, remoteAddr: { toString: () => string } }>): Map<string, TransportKind[]> {
  const out = new Map<string, TransportKind[]>()
  for (const c of connections) {
    const peer = c.remotePeer.toString()
    const kind = transportKind(c.remoteAddr.toString())
    const kinds = out.get(peer) ?? []
    if (!kinds.includes(kind)) kinds.push(kind)
    out.set(peer, kinds)
  }
  return out
}
