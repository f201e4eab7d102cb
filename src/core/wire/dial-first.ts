import type { Connection, Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'

/** How a tab reaches a node: WebSockets (ws or wss) or WebRTC-direct. */
export type NodeTransport = 'websockets' | 'webrtc-direct'

/** WebSockets first: a fraction of WebRTC-direct's CPU per byte on the node, and faster (docs/benchmarks.md#how-a-tab-reaches-its-node). */
export const DEFAULT_NODE_TRANSPORTS: NodeTransport[] = ['websockets', 'webrtc-direct']

/** Which of a tab's transports reaches `addr`, if any. */
export function transportOf (addr: string): NodeTransport | undefined {
  if (addr.includes('/webrtc-direct')) return 'webrtc-direct'
  if (/\/(ws|wss)(\/|$)/.test(addr)) return 'websockets'
  return undefined
}

/**
 * A node's addresses a tab may use, in the order `prefer` gives. An https
 * page cannot open ws://, and cannot open wss:// to a certificate it does not
 * trust: those fail at once, and the next transport is tried.
 */
export function orderAddresses (addrs: string[], prefer: NodeTransport[] = DEFAULT_NODE_TRANSPORTS): string[] {
  return prefer.flatMap(t => addrs.filter(a => transportOf(a) === t))
}

/**
 * Dials `addrs` (one peer's) one after the other, in the order given, until
 * one connects; throws the last error when none does. One at a time: a peer
 * with two open connections would split its streams between them.
 */
export async function dialFirst (libp2p: Libp2p, addrs: string[], signal?: AbortSignal): Promise<Connection> {
  let last: unknown = new Error('no address to dial')
  for (const a of addrs) {
    signal?.throwIfAborted()
    try {
      return await libp2p.dial(multiaddr(a), signal === undefined ? {} : { signal })
    } catch (err) {
      last = err
    }
  }
  throw last
}
