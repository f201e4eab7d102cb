import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { quietNoise } from '../core/wire/noise-reads.js'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { createLibp2p } from 'libp2p'
import { meshMuxer } from '../core/wire/mesh-muxer.js'
import { joinedWebSockets } from '../core/wire/joined-websockets.js'
import { dialFirst, orderAddresses, type NodeTransport } from '../core/wire/dial-first.js'
import { GuestMember } from '../core/mesh/guest-member.js'
import { GuestStore } from '../core/mesh/guest-store.js'
import type { ObjectStore } from '../core/object-store.js'
import { IdbStore } from './idb-store.js'
import { browserHashes } from './wasm-hashes.js'

export interface PageNodeOptions {
  /** The tab's libp2p identity: the peer id its node admitted. */
  privateKey: PrivateKey
  /** Node relays' WebSocket and WebRTC-direct multiaddrs (with /p2p/<id>): the tab dials them and follows one. */
  relays: string[]
  /**
   * How the tab may reach its nodes, in order of preference (default
   * WebSockets, then WebRTC-direct: an https page falls back to it when the
   * node's WebSockets have no certificate the browser trusts).
   */
  transports?: NodeTransport[]
  cluster: string
  /** The admission its node signed for this tab (renew() replaces it). */
  admission: Uint8Array
  /** Where the tab's writes go: S3 towards its node, signed with the tab's credentials. */
  writer: ObjectStore
  /**
   * Allow dialling ws:// and private addresses. Browsers' libp2p refuses both
   * by default (a page should not probe the local network); a local or test
   * mesh needs them. Off unless asked for.
   */
  allowLocalAddresses?: boolean
  /** The tab's own store; IndexedDB (shared with the service worker) unless given. */
  store?: ObjectStore
  /** With no feed to follow, how often to try the relays again, ms. */
  reconnectIntervalMs?: number
  signal?: AbortSignal
}

export interface PageNode {
  libp2p: Libp2p<{ identify: unknown }>
  /** The tab as a guest of the mesh: its catalog, peers, copies. */
  guest: GuestMember
  /** What the tab's S3 handler serves. */
  store: GuestStore
  /** Hands the tab a renewed admission. */
  renew: (admission: Uint8Array) => Promise<void>
  stop: () => Promise<void>
}

/**
 * A browser tab as a guest of the mesh: libp2p over WebSockets to the Node
 * relays, circuit relay v2 and WebRTC to other tabs; no cluster key. It
 * follows a node's feed of what its user may list, reads objects from their
 * holders (other tabs over WebRTC first) into IndexedDB and serves them to
 * other tabs their admissions let read them; its writes are S3 requests to
 * the node (see core/mesh/guest-member.ts and docs/tabs.md).
 */
export async function startPageNode (o: PageNodeOptions): Promise<PageNode> {
  const libp2p = await createLibp2p({
    privateKey: o.privateKey,
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [joinedWebSockets(), webRTC(), webRTCDirect(), circuitRelayTransport()],
    connectionEncrypters: [quietNoise()],
    streamMuxers: [meshMuxer()],
    ...(o.allowLocalAddresses === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    services: { identify: identify() },
  })
  let guest: GuestMember | undefined
  try {
    // The relays first: everything else reaches the tab through them. One connection to each, by the first transport that works.
    const relays = orderAddresses(o.relays, o.transports)
    const byPeer = new Map<string, string[]>()
    for (const a of relays) {
      const peer = a.split('/p2p/').at(-1) ?? ''
      byPeer.set(peer, [...byPeer.get(peer) ?? [], a])
    }
    const reached = await Promise.allSettled([...byPeer.values()].map(async addrs => await dialFirst(libp2p, addrs, o.signal)))
    if (!reached.some(r => r.status === 'fulfilled')) {
      throw new Error(`No relay answered (${o.relays.join(', ')}): ${reached.map(r => r.status === 'rejected' ? String(r.reason) : '').join('; ')}`)
    }
    // The tab's dialable addresses exist once a relay has reserved it a slot: the WebRTC ones first.
    const addresses = (): string[] => {
      const all = libp2p.getMultiaddrs().map(String)
      return [...all.filter(a => a.includes('/webrtc')), ...all.filter(a => !a.includes('/webrtc'))]
    }
    const started = guest = new GuestMember({
      libp2p, store: o.store ?? new IdbStore(), hashes: browserHashes, cluster: o.cluster, admission: o.admission, relays, addresses,
      retryMs: o.reconnectIntervalMs ?? 2000,
    })
    await started.start()
    let told = ''
    const advertise = (): void => {
      if (addresses().join(' ') === told) return
      told = addresses().join(' ')
      void started.updateAddresses()
    }
    libp2p.addEventListener('self:peer:update', advertise)
    // The first feed: until it has answered, the tab knows nothing of the mesh.
    await Promise.race([started.synced, new Promise((_resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`No relay let the tab follow the mesh${started.stats.refused === undefined ? '' : ` (${started.stats.refused})`}.`)) }, 20_000)
      // Given up on (a tab stopped while its node starts): at once, not after the wait.
      const onAbort = (): void => { clearTimeout(timer); reject(o.signal!.reason) }
      o.signal?.addEventListener('abort', onAbort, { once: true })
      void started.synced.finally(() => { clearTimeout(timer); o.signal?.removeEventListener('abort', onAbort) })
    })])
    return {
      libp2p, guest: started, store: new GuestStore(started, o.writer),
      renew: async admission => { await started.renew(admission) },
      stop: async () => {
        libp2p.removeEventListener('self:peer:update', advertise)
        await started.stop()
        await libp2p.stop()
      },
    }
  } catch (err) {
    // Nothing half-started stays behind.
    await guest?.stop().catch(() => {})
    await Promise.resolve(libp2p.stop()).catch(() => {})
    throw err
  }
}
