import type { Libp2p, PeerId } from '@libp2p/interface'

/**
 * Forgets what libp2p's peer store learned of a peer (its keys, addresses,
 * protocols, identify's metadata: about 8 KB) once its last connection
 * closes, unless `keep` names it (a member, which the node may dial again).
 * The store keeps every identity it met otherwise, for the process's life:
 * every tab that ever connected, every stranger let go, and identities cost
 * their sender nothing. A peer that comes back is learned again as it
 * connects (identify). Returns what stops it.
 */
export function forgetDeparted (libp2p: Libp2p, keep: (peer: string) => boolean): () => void {
  const onDisconnect = (e: CustomEvent<PeerId>): void => {
    const peer = e.detail
    // A connection that opened again since keeps its record.
    if (keep(peer.toString()) || libp2p.getConnections(peer).length > 0) return
    FORGOTTEN.peers++
    void libp2p.peerStore.delete(peer).catch(() => {})
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)
  return () => { libp2p.removeEventListener('peer:disconnect', onDisconnect) }
}

/** Peer records this process forgot (for /metrics and tests). */
export const FORGOTTEN = { peers: 0 }
