import { pause } from '../pause.js'

export interface JoinSeedsOptions {
  /** Dials the seeds and asks them to let this member join; resolves with how many were reached. */
  join: (signal: AbortSignal) => Promise<number>
  /** Whether a member has answered (this member knows another one alive). */
  answered: () => boolean
  /** Told once, when no seed could be reached at the first try. */
  onUnreached: () => void
  /** Told once, when seeds were reached but no member answered within `answerMs`: this member runs alone until one does. */
  onUnanswered: () => void
  /** How long after first reaching a seed an answer is waited for before `onUnanswered`, ms. */
  answerMs: number
  /** How often the join is asked again until a member answers, ms. */
  retryMs: number
  /** How often once `onUnanswered` was told, ms (a seed of another cluster is not asked every few seconds for ever). */
  retryAloneMs: number
  /** Stops asking. */
  signal: AbortSignal
}

/**
 * Joins through seeds, asking again until a member answers. Seeds may start
 * after this member, and a join's answer may be lost: a seed that has not yet
 * noticed this member restarted under its old identity is still dialling its
 * old addresses when it answers, and the answer goes down with that dial.
 * Only an answer tells this member of the others, so one join asked once
 * could leave it running alone for good.
 */
export async function joinSeeds (o: JoinSeedsOptions): Promise<void> {
  let reachedAt: number | undefined
  let told = false
  for (let attempt = 0; !o.signal.aborted && !o.answered(); attempt++) {
    // Reached is not admitted: a seed of another cluster (key or name) drops every message. Checked here, a retry
    // after the last join was sent, so that join's answer had time to come.
    if (reachedAt !== undefined && !told && Date.now() - reachedAt >= o.answerMs) {
      told = true
      o.onUnanswered()
    }
    const reached = await o.join(o.signal).catch(() => 0)
    if (o.signal.aborted) return
    if (reached > 0) reachedAt ??= Date.now()
    else if (attempt === 0) o.onUnreached()
    await pause(told ? o.retryAloneMs : o.retryMs, o.signal)
  }
}
