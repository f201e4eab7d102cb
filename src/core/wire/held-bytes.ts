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
 * knows as members, one for every other peer (tabs, and strangers without
 * the cluster key, who can open a stream of any protocol and send a first
 * frame they cannot seal). Split so that strangers spend only their own:
 * with one budget, a stranger sending about a MB a second (each frame within
 * its protocol's time bound) kept it spent, and members' push-pulls and
 * catalog merges were refused while it did.
 */
export class FirstFrameBudgets {
  private readonly memberLists = new Set<(peer: string) => boolean>()

  constructor (readonly members: HeldBytes, readonly others: HeldBytes) {}

  /** Counts the peers `isMember` names as members (a node's membership), until the function returned is called. */
  knowMembers (isMember: (peer: string) => boolean): () => void {
    this.memberLists.add(isMember)
    return () => { this.memberLists.delete(isMember) }
  }

  /** The budget a first frame on a stream `peer` opened is held against. */
  for (peer: string): HeldBytes {
    for (const isMember of this.memberLists) if (isMember(peer)) return this.members
    return this.others
  }
}

/**
 * The process's budgets for the bytes of first frames not yet whole. Members:
 * 64 MiB, sixteen of the largest (4 MiB, MAX_FRAME_BYTES); honest first
 * frames mostly arrive whole and hold nothing, a few large ones (a catalog
 * merge, a membership push-pull) hold their bytes for as long as they take
 * to arrive. Other peers: 16 MiB, a guest's requests being small (an
 * admission, at most 256 KiB, and a question) and a member yet to be known
 * (one joining) sending a few.
 */
export const FIRST_FRAMES = new FirstFrameBudgets(new HeldBytes(64 * 1024 * 1024), new HeldBytes(16 * 1024 * 1024))
