import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

/**
 * A new stream to `peer`: on an open connection when there is one (dialProtocol
 * costs milliseconds of peer-store and dial-queue work even then). Optimistic
 * protocol selection is asked for, but libp2p 3.3's multistream-select
 * ignores it: every new stream waits one round trip for its protocol (2 to 9
 * ms measured on loopback between two processes), which a request on a new
 * stream pays on top of its own.
 */
export async function openStream (libp2p: Libp2p, peer: string, protocol: string, signal: AbortSignal): Promise<Stream> {
  const id = peerIdFromString(peer)
  const open = libp2p.getConnections(id).find(c => c.status === 'open' && c.limits === undefined)
  if (open !== undefined) {
    try {
      return await open.newStream(protocol, { signal, negotiateFully: false })
    } catch {
      // The connection went away meanwhile: dial.
    }
  }
  return await libp2p.dialProtocol(id, protocol, { signal, negotiateFully: false })
}
