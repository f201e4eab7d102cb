import type { Libp2p, PeerId } from '@libp2p/interface'

export interface ForgetOptions {
  /** How long after a peer's last connection closed its record goes, ms: libp2p's own handlers of the disconnect (the registrar telling gossipsub) read it first. */
  delayMs?: number
  /** How often every record is looked at, ms: one written back after its peer left (an identify answer that landed late) goes at the second look that finds it so. */
  sweepMs?: number
}

/** Peer records this process forgot (for /metrics and tests). */
export const FORGOTTEN = { peers: 0 }

/**
 * Forgets what libp2p's peer store learned of a peer (its keys, addresses,
 * protocols, identify's metadata: about 8 KB) once its last connection has
 * closed, unless `keep` names it (a member, which the node may dial again).
 * The store keeps every identity it met otherwise, for the process's life:
 * every tab that ever connected, every stranger let go, and identities cost
 * their sender nothing. A peer that comes back is learned again as it
 * connects (identify). Returns what stops it.
 */
export function forgetDeparted (libp2p: Libp2p, keep: (peer: string) => boolean, options: ForgetOptions = {}): () => void {
  const delayMs = options.delayMs ?? 1000
  const sweepMs = options.sweepMs ?? 60_000
  const gone = (peer: PeerId): boolean => !peer.equals(libp2p.peerId) && !keep(peer.toString()) && libp2p.getConnections(peer).length === 0
  const forget = async (peer: PeerId): Promise<void> => {
    // Looked at again when it is due: a connection that opened since keeps the record.
    if (!gone(peer) || !await libp2p.peerStore.has(peer)) return
    FORGOTTEN.peers++
    await libp2p.peerStore.delete(peer)
  }

  const timers = new Set<ReturnType<typeof setTimeout>>()
  const onDisconnect = (e: CustomEvent<PeerId>): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      void forget(e.detail).catch(() => {})
    }, delayMs)
    timer.unref()
    timers.add(timer)
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)

  // Records found gone at the last sweep; those still gone at the next one go (a dial under way has a connection by then).
  let seenGone = new Set<string>()
  let sweeping = false
  const sweep = async (): Promise<void> => {
    const next = new Set<string>()
    for (const { id } of await libp2p.peerStore.all()) {
      if (!gone(id)) continue
      if (seenGone.has(id.toString())) await forget(id)
      else next.add(id.toString())
    }
    seenGone = next
  }
  const sweeper = setInterval(() => {
    if (sweeping) return
    sweeping = true
    void sweep().catch(() => {}).finally(() => { sweeping = false })
  }, sweepMs)
  sweeper.unref()

  return () => {
    libp2p.removeEventListener('peer:disconnect', onDisconnect)
    for (const t of timers) clearTimeout(t)
    timers.clear()
    clearInterval(sweeper)
  }
}
