import { S3Error } from '../core/errors.js'
import type { KeyedLock } from '../core/keyed-lock.js'

/** The longest wait between two tries of one key's change, ms. */
const MOST_WAIT_MS = 10 * 60_000

export interface BlockedKeysOptions {
  /** The wait before a key's change is first tried again, ms, doubled after each failed try up to ten minutes; 0: only at the next start. */
  retryMs: number
  /** Finishes or undoes the change waiting for `bucket`/`key` (its intent), as a start does, with the key's lock held; throws if it still cannot. */
  heal: (bucket: string, key: string) => Promise<void>
  /** The store's key locks: a try runs as a write to the key would. */
  locks: KeyedLock
  /** Where a key served again, or a failed try, is told. */
  log: (line: string) => void
}

/**
 * Keys whose last change failed half-way (a full disk, a failing fsync) and
 * could be neither finished nor undone then: each answers ServiceUnavailable
 * while the change's durable intent waits, and the change is tried again in
 * the background as a start would finish it, after `retryMs`, then twice as
 * long each time. A disk that filled and has room again, or a fault that
 * passed, heals without a restart; the next start tries them too.
 */
export class BlockedKeys {
  /** `bucket/key` to the wait before its next try and when that is due (performance.now(), ms: a wall-clock step moves no try). */
  private readonly waiting = new Map<string, { waitMs: number, dueAt: number }>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** When the timer fires (performance.now(), ms). */
  private timerAt = 0
  private running: Promise<unknown> = Promise.resolve()
  private stopped = false

  constructor (private readonly o: BlockedKeysOptions) {}

  /** Leaves `where` (`bucket/key`) alone until its change is finished; its first retry is due after `retryMs`. */
  add (where: string): void {
    if (this.waiting.has(where)) return
    const dueAt = performance.now() + this.o.retryMs
    this.waiting.set(where, { waitMs: this.o.retryMs, dueAt })
    this.schedule(dueAt)
  }

  has (where: string): boolean {
    return this.waiting.has(where)
  }

  get size (): number {
    return this.waiting.size
  }

  /** Whether a key of `bucket` waits (its bucket is not deleted meanwhile). */
  anyIn (bucket: string): boolean {
    for (const where of this.waiting.keys()) if (where.startsWith(`${bucket}/`)) return true
    return false
  }

  /** Throws ServiceUnavailable for a key whose change is waiting. */
  check (where: string): void {
    if (!this.waiting.has(where)) return
    const when = this.o.retryMs > 0 ? 'it is tried again in the background and at the next start' : 'the next start of the server finishes it'
    throw new S3Error('ServiceUnavailable', `A change to ${where} failed half-way (a full disk?); ${when}. Until then the key is not changed or read.`)
  }

  /**
   * Tries the waiting changes whose retry is due (`all`: every one) now, one
   * key at a time, each under its key's lock. Returns the keys served again.
   */
  async retry (options: { all?: boolean } = {}): Promise<string[]> {
    const pass = this.running.then(async () => await this.pass(options.all === true))
    this.running = pass.catch(() => {})
    return await pass
  }

  /** No more tries; waits for one under way. */
  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  private async pass (all: boolean): Promise<string[]> {
    const healed: string[] = []
    for (const [where, due] of [...this.waiting]) {
      if (this.stopped) break
      if (!all && due.dueAt > performance.now()) continue
      const slash = where.indexOf('/')
      let line: string
      try {
        await this.o.locks.run(where, async () => {
          await this.o.heal(where.slice(0, slash), where.slice(slash + 1))
          // Still under the lock: a write waiting for it finds the key served.
          this.waiting.delete(where)
        })
        healed.push(where)
        line = `the change to ${where} that failed half-way is finished or undone; the key is served again`
      } catch (err) {
        const waitMs = Math.min(due.waitMs * 2, MOST_WAIT_MS)
        this.waiting.set(where, { waitMs, dueAt: performance.now() + waitMs })
        const next = this.o.retryMs > 0 ? `tried again in ${Math.round(waitMs / 1000)} s` : 'tried again at the next start'
        line = `the change to ${where} that failed half-way still cannot be finished (${err instanceof Error ? err.message : String(err)}); ${next}`
      }
      try { this.o.log(line) } catch { /* a log that fails changes nothing here */ }
    }
    this.schedule()
    return healed
  }

  /**
   * A timer for the earliest try due (one set for later is set again), unless
   * retries are off or none waits. `added`: the due time of a key just added,
   * the only one that can be earlier than the timer (tries only move later).
   */
  private schedule (added?: number): void {
    if (this.stopped || this.o.retryMs <= 0 || this.waiting.size === 0) return
    let next = added ?? Infinity
    // A loop, not Math.min(...all): a full disk under load can leave more keys waiting than a call takes arguments.
    if (added === undefined) for (const w of this.waiting.values()) next = Math.min(next, w.dueAt)
    if (this.timer !== undefined) {
      if (this.timerAt <= next) return
      clearTimeout(this.timer)
    }
    this.timerAt = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      // (A pass tells its own failures; this only keeps an unexpected one from ending the process.)
      this.retry().catch(err => { try { this.o.log(`retrying changes that failed half-way: ${err instanceof Error ? err.message : String(err)}`) } catch {} })
    }, Math.max(0, next - performance.now()))
    // A node that is stopping does not wait for it.
    this.timer.unref?.()
  }
}
