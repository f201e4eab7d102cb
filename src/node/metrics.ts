import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { FIRST_FRAMES } from '../core/wire/held-bytes.js'
import { WEBRTC_DIRECT_HANDSHAKES } from './guarded-webrtc-direct.js'
import { STRANGERS } from './stranger-connections.js'
import { FORGOTTEN } from './departed-peers.js'
import type { GuestService } from '../core/mesh/guest-service.js'
import type { AccessControl } from '../core/access/access-control.js'
import type { AccessSync } from '../core/mesh/access-sync.js'
import type { MeshNode } from '../core/mesh/mesh-node.js'
import type { MembershipTransport } from '../core/membership/libp2p-transport.js'
import type { LifecycleStats } from '../core/lifecycle-runner.js'
import type { DiskStore } from './disk-store.js'
import type { ScanCounters } from './folder-scan.js'

/** Prometheus metrics for one server: a registry of its own, so several servers in one process do not collide. */
export class ServerMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({
    name: 's3mesh_http_requests_total', help: 'S3 requests by operation and HTTP status.', labelNames: ['operation', 'status'], registers: [this.registry],
  })
  private readonly duration = new Histogram({
    name: 's3mesh_http_request_duration_seconds', help: 'Time from request to the last byte of the response, by operation.', labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  })
  private readonly bytesIn = new Counter({ name: 's3mesh_http_received_bytes_total', help: 'Request body bytes received.', registers: [this.registry] })
  private readonly bytesOut = new Counter({ name: 's3mesh_http_sent_bytes_total', help: 'Response body bytes sent.', registers: [this.registry] })

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: 's3mesh_' })
  }

  /** s3mesh's own metrics as JSON (prom-client's shape), without the process and Node.js ones: what the console charts. */
  async json (): Promise<unknown> {
    return (await this.registry.getMetricsAsJSON()).filter(m => !/^s3mesh_(process|nodejs)_/.test(m.name))
  }

  observe (operation: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.requests.inc({ operation, status: String(status) })
    this.duration.observe({ operation }, seconds)
    if (bytesIn > 0) this.bytesIn.inc(bytesIn)
    if (bytesOut > 0) this.bytesOut.inc(bytesOut)
  }

  /** The folder scans that adopt files placed by hand (DiskStore): progress while one runs; and the keys waiting for a change to be finished. */
  attachStore (store: DiskStore): void {
    const c = (): ScanCounters => store.scanCounters
    this.counterFrom('s3mesh_adopt_scans_total', 'Scans of the bucket folders for files placed by hand, finished.', () => c().scans)
    this.counterFrom('s3mesh_adopt_checked_files_total', 'Files looked up by those scans (only in folders that changed since the last scan).', () => c().checked)
    this.counterFrom('s3mesh_adopt_adopted_files_total', 'Files placed by hand that became objects.', () => c().adopted)
    this.counterFrom('s3mesh_adopt_removed_files_total', 'Objects dropped because their file was deleted from its bucket folder by hand.', () => c().removed)
    this.gaugeFrom('s3mesh_adopt_scan_running', '1 while a scan runs (the first one after start adopts what was placed while the node was down).', () => c().running ? 1 : 0)
    this.gaugeFrom('s3mesh_adopt_last_scan_seconds', 'How long the last finished scan took.', () => c().lastSeconds)
    this.gaugeFrom('s3mesh_blocked_keys', 'Keys answering 503 because a change to them failed half-way (a full disk, a failing fsync), until a retry finishes it.', () => store.blocked.size)
  }

  /** What the buckets' lifecycle rules did on this node. */
  attachLifecycle (stats: LifecycleStats): void {
    this.counterFrom('s3mesh_lifecycle_passes_total', 'Passes over the buckets with lifecycle rules.', () => stats.passes)
    this.counterFrom('s3mesh_lifecycle_checked_objects_total', 'Objects looked at by those passes, in the buckets this node decides for (in a mesh, those it leads).', () => stats.checked)
    this.counterFrom('s3mesh_lifecycle_expired_objects_total', 'Objects deleted because a lifecycle rule expired them.', () => stats.expired)
    this.counterFrom('s3mesh_lifecycle_aborted_uploads_total', 'Multipart uploads aborted by an AbortIncompleteMultipartUpload rule.', () => stats.aborted)
    this.counterFrom('s3mesh_lifecycle_expired_versions_total', 'Noncurrent versions and delete markers deleted by NoncurrentVersionExpiration and ExpiredObjectDeleteMarker rules.', () => stats.versionsExpired)
    this.gaugeFrom('s3mesh_lifecycle_last_pass_seconds', 'How long the last finished pass took.', () => stats.lastPassSeconds)
  }

  /** Membership gauges, read when Prometheus scrapes. */
  attachMembership (transport: MembershipTransport): void {
    const { membership, stats } = transport
    const registers = [this.registry]
    new Gauge({
      name: 's3mesh_members', help: 'Members of the mesh as this node sees them, by state.', labelNames: ['state'], registers,
      collect () {
        this.reset()
        for (const state of ['alive', 'suspect', 'failed', 'left']) this.set({ state }, 0)
        for (const m of membership.list()) this.inc({ state: m.state })
      },
    })
    const counter = this.counterFrom.bind(this)
    // By the budget drawn on (held-bytes.ts): this node's members, the tabs it admitted, and other peers.
    const budgets = { member: FIRST_FRAMES.members, tab: FIRST_FRAMES.tabs, other: FIRST_FRAMES.others }
    new Gauge({
      name: 's3mesh_first_frames_held_bytes', help: 'Bytes received of first frames of peers\' streams not yet whole (every protocol), by the budget they are held against: members\', admitted tabs\' or other peers\'.', labelNames: ['peers'], registers,
      collect () { for (const [peers, b] of Object.entries(budgets)) this.set({ peers }, b.inUse) },
    })
    new Counter({
      name: 's3mesh_first_frames_refused_total', help: 'First frames refused because their budget was spent: a flood of strangers\' streams (peers="other"), or a budget too small for the honest load.', labelNames: ['peers'], registers,
      collect () { this.reset(); for (const [peers, b] of Object.entries(budgets)) this.inc({ peers }, b.refused) },
    })
    this.gaugeFrom('s3mesh_webrtc_direct_handshakes_pending', 'WebRTC-direct handshakes under way (guarded-webrtc-direct.ts: at most 64, 16 from one address).', () => WEBRTC_DIRECT_HANDSHAKES.pending)
    counter('s3mesh_webrtc_direct_handshakes_refused_total', 'STUN requests dropped because as many handshakes were under way: a flood, or a burst of tabs larger than the bound.', () => WEBRTC_DIRECT_HANDSHAKES.refused)
    counter('s3mesh_peer_records_forgotten_total', 'Peer store records forgotten as their peer\'s last connection closed: every peer but members (departed-peers.ts).', () => FORGOTTEN.peers)
    counter('s3mesh_stranger_connections_closed_total', 'Connections closed because their peer was neither a member nor a tab this node admitted 30 s after connecting (stranger-connections.ts).', () => STRANGERS.closed)
    counter('s3mesh_membership_probes_total', 'Direct probes sent.', () => membership.counters.probes)
    counter('s3mesh_membership_failed_probes_total', 'Probes that got no ack, direct or indirect.', () => membership.counters.failedProbes)
    counter('s3mesh_membership_suspicions_total', 'Members this node began to suspect.', () => membership.counters.suspicions)
    counter('s3mesh_membership_refutations_total', 'Times this node refuted a suspicion or death about itself.', () => membership.counters.refutations)
    counter('s3mesh_membership_sent_bytes_total', 'Sealed membership bytes sent.', () => stats.bytesSent)
    counter('s3mesh_membership_received_bytes_total', 'Sealed membership bytes received.', () => stats.bytesReceived)
    counter('s3mesh_membership_published_updates_total', 'Updates this node published on the gossipsub topic.', () => stats.published)
    counter('s3mesh_membership_pubsub_updates_total', 'Updates received from the gossipsub topic.', () => stats.fromPubsub)
    this.gaugeFrom('s3mesh_membership_health_score', 'Lifeguard local health score (0 is healthy).', () => membership.awareness.healthScore)
    this.countersByReason('s3mesh_membership_dropped_messages_total', 'Membership messages dropped, by reason.', stats.dropped)
  }

  /** Catalog, replication and transfer figures of the object mesh. */
  attachMesh (node: MeshNode): void {
    const gauge = this.gaugeFrom.bind(this)
    const counter = this.counterFrom.bind(this)
    gauge('s3mesh_catalog_objects', 'Live objects in the buckets whose part of the catalog this node keeps (every bucket, unless the catalog is partitioned).', () => node.stats.objects)
    gauge('s3mesh_catalog_bytes', 'Bytes of those objects (one copy each).', () => node.stats.bytes)
    gauge('s3mesh_catalog_owned_buckets', 'Buckets whose part of the catalog this node keeps (owns).', () => node.catalog.bucketNames().filter(b => node.partition.owns(b)).length)
    gauge('s3mesh_under_replicated_objects', 'Of those objects, the ones with fewer live holders than the replica count allows.', () => node.stats.underReplicated)
    gauge('s3mesh_repair_queue', 'Objects this node is fetching or waiting to fetch to restore replicas.', () => node.stats.repairQueue)
    counter('s3mesh_repaired_objects_total', 'Objects this node fetched to restore replicas.', () => node.stats.repaired)
    counter('s3mesh_corrupt_copies_total', 'Local copies found not to hash to their version, dropped and fetched again.', () => node.stats.corruptCopies)
    counter('s3mesh_intact_reports_total', 'Copies reported damaged (by a read here or a member that fetched them) that, read again, hashed to their version and were kept.', () => node.stats.intactReports)
    counter('s3mesh_lost_claims_total', 'Versions the catalog said this node held that a read found no copy of here (a data folder put back from a backup, a file removed while stopped): the claim dropped, the copy fetched again.', () => node.stats.lostClaims)
    counter('s3mesh_bad_holder_transfers_total', 'Transfers whose bytes did not match the catalog (the holder was skipped).', () => node.stats.badHolders)
    counter('s3mesh_transfer_sent_bytes_total', 'Object bytes sent to other members.', () => node.transfer.stats.bytesSent)
    counter('s3mesh_transfer_received_bytes_total', 'Object bytes received from other members.', () => node.transfer.stats.bytesReceived)
    counter('s3mesh_transfer_refused_total', 'Transfer requests refused (no cluster key, malformed, or not storable).', () => node.transfer.stats.refused)
    counter('s3mesh_transfer_pushed_on_spare_total', 'Writes pushed to a replica on a stream opened ahead (no protocol round trip).', () => node.transfer.stats.pushedOnSpare)
    counter('s3mesh_transfer_pushed_on_kept_total', 'Writes pushed to a replica on a stream kept from an earlier exchange with it (no new stream).', () => node.transfer.stats.pushedOnKept)
    counter('s3mesh_transfer_fetched_on_kept_total', 'Objects fetched from a holder on a stream kept from an earlier exchange with it (no new stream).', () => node.transfer.stats.fetchedOnKept)
    counter('s3mesh_catalog_announced_entries_total', 'Catalog entries this node published.', () => node.announcer.stats.publishedEntries)
    counter('s3mesh_catalog_republished_total', 'Catalog announcements published again, listing no recipients: gossipsub had not sent the first to every subscriber it listed.', () => node.announcer.stats.republished)
    counter('s3mesh_catalog_received_entries_total', 'Catalog entries received on the gossip topics (the buckets this node owns or follows, and buckets\' own entries).', () => node.announcer.stats.receivedEntries)
    gauge('s3mesh_catalog_bucket_topics', 'Bucket announcement topics this node subscribes to (buckets it owns or follows).', () => node.announcer.stats.topics)
    counter('s3mesh_catalog_holder_notices_total', 'Entries this node, as a bucket\'s leading owner, sent to members holding a replaced version of a key in a bucket they do not own.', () => node.notices.stats.sent)
    counter('s3mesh_catalog_handed_over_entries_total', 'Entries of buckets this node does not own handed to an owner (all once after a start or a membership change, then only what changed), by fingerprint or whole.', () => node.stats.handedOver)
    counter('s3mesh_catalog_handed_whole_entries_total', 'Of those, the entries sent whole: the owner had them otherwise or not at all.', () => node.stats.handedWhole)
    counter('s3mesh_catalog_compared_entries_total', 'Entries other members handed this node, as an owner, by fingerprint (compared with its own).', () => node.query.stats.compared)
    counter('s3mesh_catalog_sync_entries_received_total', 'Catalog entries received by anti-entropy.', () => node.antiEntropy.stats.entriesReceived)
    this.countersByReason('s3mesh_catalog_dropped_messages_total', 'Catalog announcements rejected (not sealed with the cluster key, malformed), by reason.', node.announcer.stats.dropped)
  }

  /** Users, keys and policies, refusals, and how the access state travels between members. */
  attachAccess (access: AccessControl, sync?: AccessSync): void {
    const gauge = this.gaugeFrom.bind(this)
    const counter = this.counterFrom.bind(this)
    gauge('s3mesh_access_users', 'Users of the mesh.', () => access.state.list('user').length)
    gauge('s3mesh_access_keys', 'Users\' access keys.', () => access.state.list('key').length)
    gauge('s3mesh_access_policies', 'Managed policies (not counting the built-in ones).', () => access.state.list('policy').length)
    counter('s3mesh_access_denied_total', 'Requests refused AccessDenied by the caller\'s policies.', () => access.stats.denied)
    if (sync === undefined) return
    counter('s3mesh_access_gossip_sent_total', 'Access changes this node gossiped.', () => sync.stats.gossipSent)
    counter('s3mesh_access_gossip_received_total', 'Access changes received on the gossip topic.', () => sync.stats.gossipReceived)
    counter('s3mesh_access_exchanges_total', 'Access anti-entropy exchanges this node began.', () => sync.stats.exchanges)
    counter('s3mesh_access_merged_entries_total', 'Access entries from other members that changed this node\'s state.', () => sync.stats.merged)
    this.countersByReason('s3mesh_access_dropped_messages_total', 'Access messages rejected (not sealed with the cluster key, malformed), by reason.', sync.stats.dropped)
  }

  /** Guests (browser tabs admitted without the cluster key): what they were given and what was refused them. */
  attachGuests (guests: GuestService): void {
    const gauge = this.gaugeFrom.bind(this)
    const counter = this.counterFrom.bind(this)
    gauge('s3mesh_guest_feeds', 'Guests (tabs) following this node\'s catalog feed now.', () => guests.stats.feeds)
    counter('s3mesh_guest_entries_sent_total', 'Catalog entries sent to guests.', () => guests.stats.entriesSent)
    counter('s3mesh_guest_entries_filtered_total', 'Catalog entries held back from guests (keys and buckets their user may not list).', () => guests.stats.entriesFiltered)
    counter('s3mesh_guest_objects_served_total', 'Objects served to guests.', () => guests.stats.served)
    counter('s3mesh_guest_holdings_taken_total', 'Copies guests announced holding that this node took and forwarded.', () => guests.stats.holdingsTaken)
    this.countersByReason('s3mesh_guest_refused_total', 'Guests\' requests refused, by reason (a bad or expired admission, a revoked user, an action the user may not take, a write announced instead of made through S3).', guests.gate.refused)
  }

  /** A gauge (a level: members, queue lengths) read when Prometheus scrapes. */
  private gaugeFrom (name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers: [this.registry], collect () { this.set(read()) } })
  }

  /** A counter kept elsewhere (a stats field that only grows), read when Prometheus scrapes. */
  private counterFrom (name: string, help: string, read: () => number): void {
    new Counter({ name, help, registers: [this.registry], collect () { this.reset(); this.inc(read()) } })
  }

  /** A counter per reason from a live count-by-reason record. */
  private countersByReason (name: string, help: string, counts: Record<string, number>): void {
    new Counter({ name, help, labelNames: ['reason'], registers: [this.registry], collect () { this.reset(); for (const [reason, n] of Object.entries(counts)) this.inc({ reason }, n) } })
  }

  async render (): Promise<{ body: string, contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }
}
