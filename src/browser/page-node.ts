import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { BROWSER, type MembershipConfig } from '../core/membership/config.js'
import type { MembershipTransport } from '../core/membership/libp2p-transport.js'
import type { MemberInfo } from '../core/membership/member-events.js'
import { decodeNodeMeta } from '../core/membership/node-meta.js'
import { GOSSIPSUB_OPTIONS, YAMUX_STREAM_OPTIONS, type MeshConfig } from '../core/mesh/config.js'
import { startMember, type MeshMember } from '../core/mesh/member.js'
import type { MeshNode } from '../core/mesh/mesh-node.js'
import { Keyring, webCryptoAead } from '../core/wire/keyring.js'
import { browserHashes } from './wasm-hashes.js'
import type { ObjectStore } from '../core/object-store.js'
import { IdbStore } from './idb-store.js'

export interface PageNodeOptions {
  /** Node relays' WebSocket multiaddrs (with /p2p/<id>): the tab dials them and joins through them. */
  relays: string[]
  /** The cluster's keys, raw; the first seals. */
  clusterKeys: Uint8Array[]
  cluster: string
  /**
   * Allow dialling ws:// and private addresses. Browsers' libp2p refuses both
   * by default (a page should not probe the local network); a local or test
   * mesh needs them. Off unless asked for.
   */
  allowLocalAddresses?: boolean
  /** The tab's own store; IndexedDB (shared with the service worker) unless given. */
  store?: ObjectStore
  /** Membership timing (the Browser preset unless given). */
  membership?: MembershipConfig
  objects?: Partial<MeshConfig>
  version?: string
  /** With no direct connection left, how often to try the relays again, ms. */
  reconnectIntervalMs?: number
  signal?: AbortSignal
}

export interface PageNode {
  libp2p: Libp2p<{ identify: unknown, pubsub: GossipSub }>
  transport: MembershipTransport
  node: MeshNode
  /** Leaves the mesh (the others mark the tab "left") and stops. */
  stop: () => Promise<void>
}

/**
 * A browser tab as a member of the mesh: libp2p over WebSockets to the Node
 * relays, circuit relay v2 and WebRTC to other tabs; membership as an
 * `ephemeral` member (never a placement target); a MeshNode over the tab's
 * IndexedDB store, so what the tab writes is announced and pushed to durable
 * members (closing the tab loses nothing), what it reads from others is
 * verified and kept, and what it holds it serves.
 */
export async function startPageNode (o: PageNodeOptions): Promise<PageNode> {
  const libp2p = await createLibp2p({
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [webSockets(), webRTC(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: YAMUX_STREAM_OPTIONS })],
    ...(o.allowLocalAddresses === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    services: {
      identify: identify(),
      pubsub: gossipsub(GOSSIPSUB_OPTIONS),
    },
  })
  let member: MeshMember | undefined
  try {
    // The relays first: everything else reaches the tab through them.
    const reached = await Promise.allSettled(o.relays.map(async r => await libp2p.dial(multiaddr(r), { signal: o.signal })))
    if (!reached.some(r => r.status === 'fulfilled')) {
      throw new Error(`No relay answered (${o.relays.join(', ')}): ${reached.map(r => r.status === 'rejected' ? String(r.reason) : '').join('; ')}`)
    }
    member = await startMember({
      libp2p, store: o.store ?? new IdbStore(), keyring: await Keyring.create(o.clusterKeys, o.cluster, webCryptoAead), cluster: o.cluster,
      role: 'ephemeral', hashes: browserHashes, membership: o.membership ?? BROWSER, version: o.version ?? '',
      ...(o.objects === undefined ? {} : { objects: o.objects }),
    })
    const { transport, node } = member
    const started = member
    // Durable members are dialled directly over WebSockets: transfers and gossip need a direct
    // connection (a relayed one is limited), and the tab can always dial a Node node, not the reverse.
    const dialDurable = (e: CustomEvent<MemberInfo>): void => {
      const m = e.detail
      const meta = decodeNodeMeta(m.meta)
      const ws = meta?.role === 'durable' ? meta.addrs.find(a => a.includes('/ws/')) : undefined
      if (ws !== undefined && libp2p.getConnections().every(c => c.remotePeer.toString() !== m.id || c.limits !== undefined)) {
        void libp2p.dial(multiaddr(ws)).catch(() => {})
      }
    }
    transport.membership.addEventListener('member:join', dialDurable)
    transport.membership.addEventListener('member:update', dialDurable)
    // The tab's dialable addresses exist only once a relay has reserved a slot for it: the
    // WebRTC ones (signalled through the relay) first, as many as fit in a member's meta.
    let advertised = ''
    const advertise = (): void => {
      const all = libp2p.getMultiaddrs().map(String)
      const addrs = [...all.filter(a => a.includes('/webrtc')), ...all.filter(a => !a.includes('/webrtc'))]
      if (addrs.join(' ') === advertised) return
      advertised = addrs.join(' ')
      // Through the transport, which keeps the rest of the meta (version, start time) and fits it to the limit.
      transport.updateMeta({ addrs })
    }
    libp2p.addEventListener('self:peer:update', advertise)
    if (await member.join(o.relays) === 0) throw new Error('No relay let the tab join the mesh (a wrong cluster key?).')
    // A tab cut off from every Node node (relays restarted, network gone) keeps serving what it
    // holds, and keeps trying its relays; once one answers it joins again and catches up.
    let rejoining = false
    const reconnect = setInterval(() => {
      if (rejoining || libp2p.getConnections().some(c => c.limits === undefined)) return
      rejoining = true
      void started.join(o.relays).catch(() => 0).finally(() => { rejoining = false })
    }, o.reconnectIntervalMs ?? 2000)
    return {
      libp2p, transport, node,
      stop: async () => {
        clearInterval(reconnect)
        libp2p.removeEventListener('self:peer:update', advertise)
        transport.membership.removeEventListener('member:join', dialDurable)
        transport.membership.removeEventListener('member:update', dialDurable)
        await started.stop()
      },
    }
  } catch (err) {
    // Nothing half-started stays behind: the member (if it started) and libp2p.
    await Promise.resolve(member === undefined ? libp2p.stop() : member.stop({ leave: false })).catch(() => {})
    throw err
  }
}
