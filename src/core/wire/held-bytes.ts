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
 * The process's budget for the bytes of first frames not yet whole: 64 MiB,
 * sixteen of the largest (4 MiB, MAX_FRAME_BYTES). Honest first frames mostly
 * arrive whole and hold nothing; a few large ones (a catalog merge, a
 * membership push-pull) hold their bytes for as long as they take to arrive.
 */
export const FIRST_FRAMES = new HeldBytes(64 * 1024 * 1024)
