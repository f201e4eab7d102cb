/**
 * Membership timing, as HashiCorp memberlist names and sets it. All times in
 * milliseconds. Use a preset and override what you must.
 */
export interface MembershipConfig {
  /** How often a member probes one other member (failure check). */
  probeIntervalMs: number
  /** How long to wait for a direct ack before asking others to probe (scaled by local health). */
  probeTimeoutMs: number
  /** How many members are asked to probe indirectly when a direct probe fails. */
  indirectChecks: number
  /** Suspicion lasts at least SuspicionMult x log10(n) x ProbeInterval before a member is declared failed. */
  suspicionMult: number
  /** Suspicion starts at this multiple of the minimum and shrinks as independent confirmations arrive (Lifeguard). */
  suspicionMaxTimeoutMult: number
  /** Each update is retransmitted RetransmitMult x ceil(log10(n + 1)) times. */
  retransmitMult: number
  /** How often queued updates are gossiped; 0 leaves dissemination to the transport (gossipsub). */
  gossipIntervalMs: number
  /** How many random members each gossip round goes to. */
  gossipNodes: number
  /** How long failed and left members still receive gossip (so they can refute) and stay listed. */
  gossipToTheDeadMs: number
  /** How often full state is exchanged with one random member (scaled up past 32 members); 0 disables. */
  pushPullIntervalMs: number
  /** How often one failed member is contacted (push-pull) in case it is reachable again, as Serf does; 0 disables. */
  reconnectIntervalMs: number
  /** How long failed members are kept for reconnecting (and listed as failed); left members go after gossipToTheDeadMs. */
  reconnectTimeoutMs: number
  /** Local health (Lifeguard): probe interval and timeout stretch up to this multiple when this member is slow. */
  awarenessMaxMultiplier: number
  /** Largest node meta, in bytes. */
  maxMetaBytes: number
}

/** memberlist's DefaultLANConfig: a LAN or one machine, round trips well under 500 ms. */
export const LAN: Readonly<MembershipConfig> = Object.freeze({
  probeIntervalMs: 1000, // Failure check every second
  probeTimeoutMs: 500, // Reasonable RTT time for LAN
  indirectChecks: 3, // Use 3 nodes for the indirect ping
  suspicionMult: 4, // Suspect a node for 4 * log(N+1) * Interval
  suspicionMaxTimeoutMult: 6, // For 10k nodes this will give a max timeout of 120 seconds
  retransmitMult: 4, // Retransmit a message 4 * log(N+1) nodes
  gossipIntervalMs: 200, // Gossip every 200 ms
  gossipNodes: 3, // Gossip to 3 nodes
  gossipToTheDeadMs: 30_000, // Same as push/pull
  pushPullIntervalMs: 30_000, // Low frequency
  reconnectIntervalMs: 30_000, // Serf's default: heals partitions memberlist alone would not
  reconnectTimeoutMs: 24 * 3600_000, // Serf's default
  awarenessMaxMultiplier: 8, // Probe interval backs off to 8 seconds
  maxMetaBytes: 512,
})

/** memberlist's DefaultWANConfig: LAN with eight overrides for slow, lossy links. */
export const WAN: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  retransmitMult: 4,
})

/** memberlist's DefaultLocalConfig: members on one host or a fast local network. */
export const LOCAL: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 1000,
  probeTimeoutMs: 200,
  indirectChecks: 1,
  retransmitMult: 2,
  suspicionMult: 3,
  gossipIntervalMs: 100,
  pushPullIntervalMs: 15_000,
  gossipToTheDeadMs: 15_000,
  reconnectIntervalMs: 10_000,
  reconnectTimeoutMs: 3600_000,
})

/**
 * Browser tabs: timers in background tabs are throttled (to about once a
 * second, then once a minute after minutes hidden) and the page may freeze.
 * Probes are gentler and suspicion long, so a throttled tab is suspected, and
 * can refute when it wakes, rather than declared failed at once.
 */
export const BROWSER: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 2000,
  probeTimeoutMs: 1500,
  suspicionMult: 8,
  suspicionMaxTimeoutMult: 8,
  gossipIntervalMs: 500,
  gossipToTheDeadMs: 120_000,
  pushPullIntervalMs: 30_000,
  // Tabs that vanish (closed, killed) are not worth chasing for long.
  reconnectTimeoutMs: 10 * 60_000,
  awarenessMaxMultiplier: 16,
})

export const PRESETS = { LAN, WAN, LOCAL, BROWSER } as const

/**
 * Updates per gossip message. memberlist fills one UDP packet (25-35 updates);
 * our messages travel over streams, and the simulator showed 16 per message
 * too few to spread refutations in time at 1,000 members and 20% loss.
 */
export const MAX_UPDATES_PER_MESSAGE = 64
/** Updates added to each probe message: enough to matter, small enough to keep probes quick. */
export const PIGGYBACK_UPDATES = 8
/** memberlist scales push-pull intervals up past this many members. */
export const PUSH_PULL_SCALE_THRESHOLD = 32
