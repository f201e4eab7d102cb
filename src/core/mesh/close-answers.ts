import { DroppedMessageError } from '../wire/strict-cbor.js'
import { compareVersions, type Timestamp, type Version } from './hlc.js'

/**
 * What the members answer a bucket's close with (bucket-close.ts), and how
 * the deleter reads those answers: checked as they arrive, then whether
 * the bucket is busy, taking each version's newest write among all members.
 */

/** A slot a member wrote lately: its key, version id, the newest version it knows of it, and whether that is live. */
export type RecentSlot = [key: string, versionId: string | null, ms: number, counter: number, node: string, live: boolean]

/**
 * What a member says when a bucket is closed at it: the writes it has under
 * way, its late writes, whether it could not list them all, and the clock
 * reading of the bucket's entry as it has it (the tombstone must be newer).
 */
export interface Closed { writing: number, recent: RecentSlot[], overflow?: boolean, seen?: Timestamp }

/** A member's answer to a close, checked; a slot that cannot be read makes it busy (what it says of that write is unknown). */
export function closedOf (a: Record<string, unknown>): Closed {
  if (a.type === 'refused' && typeof a.reason === 'string') throw new Refused(a.reason.slice(0, 200))
  if (a.type !== 'closed' || typeof a.writing !== 'number' || !Array.isArray(a.recent)) throw new DroppedMessageError('malformed', 'A member answered a close with something else.')
  const recent = a.recent.filter((s: unknown): s is RecentSlot => Array.isArray(s) && s.length === 6 && typeof s[0] === 'string' && (s[1] === null || typeof s[1] === 'string') &&
    typeof s[2] === 'number' && typeof s[3] === 'number' && typeof s[4] === 'string' && typeof s[5] === 'boolean')
  const overflow = a.overflow === true || recent.length !== a.recent.length
  const seen = a.seen as Partial<Timestamp> | undefined
  if (seen !== undefined && (typeof seen !== 'object' || seen === null || !Number.isSafeInteger(seen.ms) || !Number.isSafeInteger(seen.counter))) {
    throw new DroppedMessageError('malformed', 'A close\'s answer with a clock reading that is none.')
  }
  return { writing: a.writing, recent, ...(overflow ? { overflow } : {}), ...(seen === undefined ? {} : { seen: { ms: seen.ms!, counter: seen.counter! } }) }
}

/** A member refused to close a bucket, and said why. */
export class Refused extends Error {
  override name = 'Refused'
}

/** Whether any member is writing or could not list its late writes, or any slot's newest late write, among all members', is live. */
export function busyOf (answers: Closed[]): boolean {
  if (answers.some(a => a.writing !== 0 || a.overflow === true)) return true
  const newest = new Map<string, { version: Version, live: boolean }>()
  for (const a of answers) {
    for (const [key, versionId, ms, counter, node, live] of a.recent) {
      const id = `${key}\n${versionId ?? ''}`
      const version = { ms, counter, node }
      const had = newest.get(id)
      if (had === undefined || compareVersions(version, had.version) > 0) newest.set(id, { version, live })
    }
  }
  for (const s of newest.values()) if (s.live) return true
  return false
}
