import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { corkedTcp } from '../../src/node/corked-tcp.js'
import { createLibp2p } from 'libp2p'
import { LOCAL, type MembershipConfig } from '../../src/core/membership/config.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { meshMuxer } from '../../src/core/wire/mesh-muxer.js'
import type { MembershipTransport } from '../../src/core/membership/libp2p-transport.js'
import { GOSSIPSUB_OPTIONS, type MeshConfig } from '../../src/core/mesh/config.js'
import { startMember } from '../../src/core/mesh/member.js'
import type { MeshNode } from '../../src/core/mesh/mesh-node.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import type { ObjectStore } from '../../src/core/object-store.js'
import { noiseCrypto } from '../../src/node/noise-crypto.js'
import { nodeAead } from '../../src/node/node-aead.js'
import { nodeHashes } from '../../src/node/node-hashes.js'

/** LOCAL with shorter intervals, so that tests and benchmarks see failures in a second or two. */
export const FAST_MEMBERSHIP: MembershipConfig = { ...LOCAL, probeIntervalMs: 300, probeTimeoutMs: 150, gossipIntervalMs: 100, pushPullIntervalMs: 3_000, reconnectIntervalMs: 1_000 }

export interface InProcessNode {
  libp2p: Libp2p<{ identify: unknown, pubsub: GossipSub }>
  transport: MembershipTransport
  mesh: MeshNode
  /** Peer ids this node refuses connections to and from (a partition). */
  blocked: Set<string>
  stop: () => Promise<void>
}

/**
 * A whole mesh member in this process, over real libp2p (TCP on loopback,
 * Noise, yamux, gossipsub) with a memory store: what a Node node runs, minus
 * HTTP and disk. For tests and benchmarks that need many members or control
 * over their connections. `stockTcp`: @libp2p/tcp as it ships, not the
 * corked one members use (bench/mesh-transfer's baseline for it).
 */
export async function startInProcessNode (o: { key: Uint8Array, cluster?: string, membership?: MembershipConfig, mesh?: Partial<MeshConfig>, store?: ObjectStore, stockTcp?: boolean }): Promise<InProcessNode> {
  const cluster = o.cluster ?? 'test'
  const blocked = new Set<string>()
  const deny = (peer: PeerId): boolean => blocked.has(peer.toString())
  const libp2p = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [o.stockTcp === true ? tcp() : corkedTcp()], connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [meshMuxer()],
    connectionGater: { denyDialPeer: deny, denyInboundEncryptedConnection: deny, denyOutboundEncryptedConnection: deny },
    // Every member here dials from 127.0.0.1: libp2p's default of 5 inbound connections a second per host would refuse most of them.
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { identify: identify(), pubsub: gossipsub(GOSSIPSUB_OPTIONS) },
  })
  const member = await startMember({
    libp2p, store: o.store ?? new MemoryStore(), keyring: await Keyring.create([o.key], cluster, nodeAead), cluster, role: 'durable',
    hashes: nodeHashes, membership: o.membership ?? FAST_MEMBERSHIP, version: 'test',
    objects: { syncIntervalMs: 1_000, repairIntervalMs: 300, transferIdleTimeoutMs: 2_000, ...o.mesh },
  })
  const { transport, node: mesh } = member
  return {
    libp2p, transport, mesh, blocked,
    // Stopped as a crash would be: no leave, so the others find it failed.
    stop: async () => { await member.stop({ leave: false }).catch(() => {}) },
  }
}
