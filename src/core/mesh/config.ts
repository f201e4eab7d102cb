/** How the object mesh replicates, repairs and syncs. */
export interface MeshConfig {
  /** Copies of each object, on distinct durable members (--replicas). */
  replicas: number
  /**
   * Copies a write waits for before it is acknowledged, this member's
   * included. Capped by the durable members alive: with fewer alive than
   * this, a write is acknowledged with the copies that could be made, and the
   * repair loop makes the rest when members return.
   */
  writeQuorum: number
  /**
   * Members that keep each bucket's part of the catalog (every object entry
   * of the bucket): the catalog is partitioned by bucket over the durable
   * members, each partition on this many of them, by rendezvous. The others
   * keep the entries of what they hold and ask an owner for the rest. With
   * this many durable members or fewer, every member keeps everything.
   */
  catalogReplicas: number
  /**
   * A durable member gone (failed, left) keeps owning its buckets' part of
   * the catalog this long, ms: a restart or a short cut moves nothing; past
   * it, other members take its buckets over.
   */
  ownerGraceMs: number
  /** A catalog exchange with a random member this often (anti-entropy), ms. */
  syncIntervalMs: number
  /** The repair loop looks at the entries that changed, and goes on with its walk through every entry, this often, ms. */
  repairIntervalMs: number
  /**
   * Once a walk through every entry (counts, tombstones past their time,
   * copies placement gives this member) found nothing to do, the next starts
   * this long after it began, ms, or later in a catalog so large that its
   * walks would take more than 1% of the member's time; a change of members,
   * a damaged copy, a tombstone's time or a walk that found work starts one
   * at once. Between walks, each pass looks only at what changed.
   */
  walkIntervalMs: number
  /** Fetches the repair loop runs at once. */
  repairConcurrency: number
  /** A peer that answers nothing for this long is given up on (per request, per chunk), ms. */
  transferIdleTimeoutMs: number
  /**
   * Tombstones (deletes) older than this are dropped from the catalog, ms. A
   * member that was away longer than this may bring a deleted object back
   * when it returns, as in Cassandra (gc_grace) and Serf (reconnect timeout).
   */
  tombstoneTtlMs: number
}

/** Three-node LANs and laptops: two copies, fast repair. */
export const MESH_DEFAULTS: MeshConfig = {
  replicas: 2,
  writeQuorum: 2,
  catalogReplicas: 3,
  ownerGraceMs: 60_000,
  syncIntervalMs: 10_000,
  repairIntervalMs: 1_000,
  walkIntervalMs: 10_000,
  repairConcurrency: 4,
  transferIdleTimeoutMs: 10_000,
  tombstoneTtlMs: 24 * 3600_000, // Serf's reconnect timeout: members away longer are forgotten too
}

/**
 * Inbound connections libp2p accepts per second from one address (its
 * default is 5, a DoS guard). Members of a cluster on one machine, or behind
 * one NAT, share an address: twenty of them starting together would be
 * turned away for seconds, and gossip would miss members meanwhile.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 100

/**
 * gossipsub settings for every s3mesh member. Publishing with no peer yet is
 * normal for a cluster's first node. Gossipsub's IP colocation penalty is off:
 * it scores down peers that share an address (beyond 10, quadratically), so
 * eleven or more members on one machine or behind one NAT stop hearing each
 * other's gossip. It guards against sybils, which cannot speak here anyway:
 * every message on our topics is sealed with the cluster key.
 *
 * Messages are not signed (StrictNoSign; a message's id is the SHA-256 of its
 * sealed bytes, unique by the seal's random nonce). The seal already says a
 * member of the cluster wrote it, and no topic asks which one; the ed25519
 * signature and its checks on every member that relays a message (a key
 * object made per call) were a tenth of three members' CPU under a
 * replicated PUT load. Members of a version that signs refuse unsigned
 * messages and the other way round: during an upgrade, announcements between
 * the two reach each other by anti-entropy (every 10 s) instead.
 *
 * IDONTWANT (gossipsub 1.2) only for messages of 16 KiB or more, not 512
 * bytes: a member sends one to each mesh peer as soon as a message arrives,
 * an RPC of its own, to spare them a duplicate of it. For a catalog
 * announcement (a few hundred bytes to a few KiB) that RPC costs about what
 * the duplicate would, and among a few members every peer has the message
 * from its publisher before an IDONTWANT could reach it.
 *
 * Forwarding waits for the member's word (asyncValidation): SealedTopic
 * gives it as a message is delivered, and a catalog announcement whose
 * publisher sent it to every subscriber this member knows goes no further
 * (see Announcer). That rests on flood publishing (gossipsub's default,
 * stated here): a publish goes to every subscriber the publisher knows, not
 * to a few mesh peers. A message not forwarded is reported Ignore, which
 * costs its sender no score as long as topics have no score parameters; a
 * topic given P3 (mesh message deliveries) would count them as missing.
 */
export const GOSSIPSUB_OPTIONS = {
  allowPublishToZeroTopicPeers: true,
  emitSelf: false,
  scoreParams: { IPColocationFactorWeight: 0 },
  globalSignaturePolicy: 'StrictNoSign',
  idontwantMinDataSize: 16 * 1024,
  asyncValidation: true,
  floodPublish: true,
} as const
