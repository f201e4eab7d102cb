/**
 * Fetches the repair loop found and could not start yet (it runs
 * repairConcurrency at once), by slot, oldest first: each starts as a
 * running fetch ends, with no pass or walk to find it again. Bounded: what
 * does not fit is dropped and `dropped` says so, until the queue is down to
 * half, when a walk finds it again (the loop asks `roomAgain`).
 */
export class OwedFetches<T> {
  private readonly owed = new Map<string, T>()
  private dropped = false

  /** @param max the most kept */
  constructor (private readonly max: number) {}

  get size (): number { return this.owed.size }

  has (id: string): boolean { return this.owed.has(id) }

  /** Owes `item` (once per id); false when the queue is full and it was dropped. */
  add (id: string, item: T): boolean {
    if (this.owed.has(id)) return true
    if (this.owed.size >= this.max) { this.dropped = true; return false }
    this.owed.set(id, item)
    return true
  }

  /** Takes the oldest out, if any. */
  take (): [string, T] | undefined {
    for (const next of this.owed) {
      this.owed.delete(next[0])
      return next
    }
    return undefined
  }

  /** True once, when some were dropped and the queue is down to half: a walk should look for them now. */
  roomAgain (): boolean {
    if (!this.dropped || this.owed.size >= this.max / 2) return false
    this.dropped = false
    return true
  }
}
