/**
 * A budget of bytes held for peers that have not yet shown they speak a
 * protocol. The first frame of a stream a peer opened is buffered whole
 * before it can be read (with the cluster key, or read as a guest's
 * admission), and a peer without the key can open many streams on many
 * connections: each protocol caps its own first frame (SealedFrames'
 * `firstFrameMaxBytes`), and this bounds their sum for the whole process.
 * A frame whose received bytes do not fit is refused (its stream reset)
 * until others are taken or dropped; honest first frames are small or
 * short-lived, so only a flood spends it.
 */
export class HeldBytes {
  private held = 0
  /** Frames refused since the start because the budget was spent. */
  refused = 0

  /** @param limit the most bytes held at once */
  constructor (readonly limit: number) {}

  /** Bytes held now. */
  get inUse (): number { return this.held }

  /** Holds `n` more bytes if they fit; false (counted in `refused`) if not. */
  take (n: number): boolean {
    if (this.held + n > this.limit) {
      this.refused++
      return false
    }
    this.held += n
    return true
  }

  give (n: number): void {
    this.held = Math.max(0, this.held - n)
  }
}

/**
 * The budgets first frames are held against: one for the peers this process
 * knows as members, one for the tabs it admitted, one for every other peer
 * (strangers without the cluster key or an admission). Any peer can open a
 * stream of any protocol and send a first frame it cannot seal, so each kind
 * spends only its own: with one budget, a stranger sending about a MB a
 * second (each frame within its protocol's time bound) kept it spent, and
 * members' push-pulls and catalog merges, and tabs' feeds, were refused while
 * it did; and an admitted tab (any valid key admits one) must not be able to
 * do to members what a stranger no longer can.
 */
export class FirstFrameBudgets {
  private readonly lists = new Set<{ isMember: (peer: string) => boolean, isTab: (peer: string) => boolean }>()

  constructor (readonly members: HeldBytes, readonly tabs: HeldBytes, readonly others: HeldBytes) {}

  /** Counts the peers a node knows (its members, the tabs it admitted), until the function returned is called. */
  knowPeers (known: { isMember: (peer: string) => boolean, isTab: (peer: string) => boolean }): () => void {
    this.lists.add(known)
    return () => { this.lists.delete(known) }
  }

  /** The budget a first frame on a stream `peer` opened is held against. */
  for (peer: string): HeldBytes {
    for (const known of this.lists) if (known.isMember(peer)) return this.members
    for (const known of this.lists) if (known.isTab(peer)) return this.tabs
    return this.others
  }
}

/**
 * The process's budgets for the bytes of first frames not yet whole. Members:
 * 64 MiB, sixteen of the largest (4 MiB, MAX_FRAME_BYTES); honest first
 * frames mostly arrive whole and hold nothing, a few large ones (a catalog
 * merge, a membership push-pull) hold their bytes for as long as they take to
 * arrive. Tabs: 16 MiB, for feeds naming their held keys. Other peers: 16
 * MiB, for strangers, a member yet to be known (one joining, until its first
 * push-pull names it) and a tab a node did not admit itself (until its first
 * request shows its admission).
 */
export const FIRST_FRAMES = new FirstFrameBudgets(new HeldBytes(64 * 1024 * 1024), new HeldBytes(16 * 1024 * 1024), new HeldBytes(16 * 1024 * 1024))
