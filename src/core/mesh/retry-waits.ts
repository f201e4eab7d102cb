/**
 * Tries that failed, each waiting before the next: the first wait is
 * `firstMs`, doubled at each failure in a row, up to `capMs()`. The repair
 * loop keeps one for its fetches (a full disk, a holder that keeps sending
 * bad bytes) and one for an owner's pushes to a member (one that does not
 * answer): each costs a try every few seconds, not one at every pass.
 *
 * A wait ends early when the live members change (`under`): the holder or
 * member may be back, or a dead one found.
 */
export class RetryWaits<T> {
  /** `handed`: handed back by `due` since its wait ended (once: what is tried then starts, fails again, or is forgotten). */
  private readonly waits = new Map<string, { failures: number, until: number, item: T, handed: boolean }>()
  /** Started and not ended, by id: none is started twice (nor counted twice, nor its failure). */
  private readonly running = new Set<string>()
  private members = ''

  /** @param capMs the longest wait, read at each failure (the config's walkIntervalMs) */
  constructor (private readonly firstMs: number, private readonly capMs: () => number) {}

  get size (): number { return this.waits.size }

  /** Whether `id` must not be tried at `now`: it is running, or its wait has not ended. */
  holds (id: string, now: number): boolean {
    return this.running.has(id) || (this.waits.get(id)?.until ?? 0) > now
  }

  /** Marks `id` started; `ended` marks it ended (once it has succeeded or failed). */
  start (id: string): void { this.running.add(id) }
  ended (id: string): void { this.running.delete(id) }

  /** A try of `id` failed at `now`: its next waits (and `item` is handed back by `due` when that wait ends). */
  failed (id: string, item: T, now: number): void {
    const failures = (this.waits.get(id)?.failures ?? 0) + 1
    this.waits.set(id, { failures, until: now + Math.min(this.capMs(), this.firstMs * 2 ** (failures - 1)), item, handed: false })
  }

  /** `id` succeeded, or there is nothing left to try. */
  forget (id: string): void {
    this.waits.delete(id)
  }

  /** Ends every wait, from the first again, when the live members (`members`, as one string) are not those they were set under. */
  under (members: string): void {
    if (members === this.members) return
    for (const w of this.waits.values()) { w.until = 0; w.failures = 0; w.handed = false }
    this.members = members
  }

  /**
   * Hands `take` what waits no more at `now` and is not running, once after
   * each wait: to be tried again. One `take` refuses (returns false: no room
   * this pass) is handed again at the next.
   */
  due (now: number, take: (item: T) => boolean): void {
    for (const [id, w] of this.waits) {
      if (w.handed || w.until > now || this.running.has(id)) continue
      w.handed = take(w.item)
    }
  }

  /** Forgets a wait that ended more than `graceMs` before `now` and was not renewed by another failure: gone or done by now. */
  prune (now: number, graceMs: number): void {
    for (const [id, w] of this.waits) if (w.until + graceMs < now && !this.running.has(id)) this.waits.delete(id)
  }
}
