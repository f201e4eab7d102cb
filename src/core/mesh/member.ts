import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Hashes } from '../hashes.js'
import type { MembershipConfig } from '../membership/config.js'
import { MembershipTransport } from '../membership/libp2p-transport.js'
import { MEMBER_CAPS, type NodeMeta } from '../membership/node-meta.js'
import type { ObjectStore } from '../object-store.js'
import type { Keyring } from '../wire/keyring.js'
import type { CatalogStore } from './catalog-store.js'
import { MESH_DEFAULTS, type MeshConfig } from './config.js'
import { MeshNode } from './mesh-node.js'

/** What a mesh member is made of: every adapter (a Node node, a browser tab, a test) brings these. */
export interface MemberParts {
  /** A libp2p node that is listening, with gossipsub as its `pubsub` service (and identify, which gossipsub needs). */
  libp2p: Libp2p<{ pubsub: GossipSub }>
  /** This member's own store: disk on a Node node, IndexedDB in a tab. */
  store: ObjectStore
  /** The cluster key(s): every message and transfer is sealed with it. */
  keyring: Keyring
  /** The cluster's name: messages sealed for another name do not open. */
  cluster: string
  /** durable: holds replicas; relay and ephemeral (a browser tab) are never placement targets (their copies never count). */
  role: NodeMeta['role']
  /** The platform's hashes (node:crypto on Node, WebAssembly in a browser). */
  hashes: Hashes
  /** Membership timing: a preset (LAN, WAN, LOCAL, BROWSER). */
  membership: MembershipConfig
  /** Object mesh settings over MESH_DEFAULTS; the write quorum is the replica count unless given. */
  objects?: Partial<MeshConfig>
  /** Keeps the catalog across restarts (a Node node's journal); without it the member starts from what its store holds. */
  catalogStore?: CatalogStore
  /** This member's software version, told to the others. */
  version: string
  /** Addresses to tell the others, best first; the libp2p node's own unless given. As many as fit in the member's meta are kept. */
  addresses?: string[]
  /** More to tell the others from the start (a Node node's free disk space). */
  meta?: Pick<NodeMeta, 'free' | 'capacity' | 'url'>
  /** Told of a peer whose membership messages this member could not open (another cluster key or name): see MembershipTransportOptions. */
  onRefused?: (peer: string, address: string) => void
}

/** A running mesh member. */
export interface MeshMember {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  keyring: Keyring
  /** Membership (SWIM) over libp2p: `transport.membership` is the member list. */
  transport: MembershipTransport
  /** The object mesh: its `store` is what the S3 handler serves. */
  node: MeshNode
  /** Dials these members' multiaddrs and joins the cluster they belong to; resolves to how many answered. */
  join: (addrs: Array<string | Multiaddr>, options?: { signal?: AbortSignal }) => Promise<number>
  /** Stops the object mesh, leaves the cluster (unless told not to: the others then find it failed) and stops libp2p. */
  stop: (options?: { leave?: boolean }) => Promise<void>
}

/**
 * Starts a mesh member from its parts: membership over the libp2p node,
 * then the object mesh over the member's store, sharing one keyring. Every
 * adapter assembles its member here and adds only what its platform needs
 * around it (a Node node's seeds and relay, a tab's reconnection).
 */
export async function startMember (parts: MemberParts): Promise<MeshMember> {
  const { libp2p, keyring, cluster } = parts
  const transport = new MembershipTransport({
    libp2p, keyring, config: parts.membership,
    meta: { role: parts.role, addrs: parts.addresses ?? libp2p.getMultiaddrs().map(String), version: parts.version, started: Date.now(), caps: MEMBER_CAPS, ...parts.meta },
    pubsub: { service: libp2p.services.pubsub, cluster },
    ...(parts.onRefused === undefined ? {} : { onRefused: parts.onRefused }),
  })
  await transport.start()
  const objects = { ...MESH_DEFAULTS, ...parts.objects }
  const node = new MeshNode({
    libp2p, pubsub: libp2p.services.pubsub, keyring, cluster, membership: transport.membership, local: parts.store, hashes: parts.hashes,
    config: { ...objects, writeQuorum: parts.objects?.writeQuorum ?? objects.replicas },
    ...(parts.catalogStore === undefined ? {} : { catalogStore: parts.catalogStore }),
  })
  try {
    await node.start()
  } catch (err) {
    await transport.stop()
    throw err
  }
  return {
    libp2p, keyring, transport, node,
    join: async (addrs, options) => await transport.join(addrs, options),
    stop: async ({ leave = true } = {}) => {
      // Queued announcements go out first; then the others are told this member leaves.
      await node.stop()
      if (leave) await transport.leave().catch(() => {})
      await transport.stop()
      await libp2p.stop()
    },
  }
}
