import { pause } from '../core/pause.js'
import type { BrowserJoinInfo } from '../gateway/mesh-api.js'

/**
 * Which tab of an origin runs its page node, and as whom, in Web Locks. The
 * tabs share one service worker and one IndexedDB: one tab runs the node
 * (PAGE_NODE_LOCK) and the worker answers every tab through it, with its
 * user's rights, so a tab of another user is refused while it runs. The
 * running tab holds a second lock that names its user (a mark), taken at once
 * when it gets the node's lock and let go before it. A registration checks
 * and takes the node's lock in one section (REGISTER_LOCK), so two tabs of
 * different users registering at once cannot both pass the check.
 */

/** The Web Lock held by the tab of an origin that runs its page node. */
export const PAGE_NODE_LOCK = 's3mesh:page-node'
/** The running tab's mark: this, its user's key, a space, and who that is (for messages). */
const MARK_PREFIX = 's3mesh:page-node-user:'
/** Held while a tab checks who runs the node and tries to take its lock. */
const REGISTER_LOCK = 's3mesh:register'
/** How long a node's lock may be seen held without its mark before the holder counts as unmarked (a tab of an older release), ms. */
const MARK_WAIT_MS = 2_000
/** How often a lock held without a mark is looked at again meanwhile, ms. */
const MARK_POLL_MS = 20

/**
 * Who a tab speaks for. Tabs of the same access key share the node: the root's
 * keys, a user's keys, one STS session (another session, of the same user or
 * not, may have a narrower policy, so it is another user here).
 */
export interface NodeUser {
  /** The access key id. */
  key: string
  /** `the root user` or `the user <name>`, for messages. */
  who: string
}

export function nodeUserOf (p: BrowserJoinInfo['principal']): NodeUser {
  return { key: p.accessKeyId, who: p.kind === 'root' ? 'the root user' : `the user ${p.user ?? p.accessKeyId}` }
}

/**
 * Another tab of this origin runs the page node as another user. Every tab of
 * an origin is answered through that node, with its user's rights, so a tab
 * of a second user is refused rather than act as the first.
 */
export class OtherUserError extends Error {
  override name = 'OtherUserError'
  /** `running`: who the running node speaks for (NodeUser.who). */
  constructor (readonly running: string) {
    super(`Another tab of this site is signed in to the mesh as ${running}, and every tab here acts with its rights: log out (or close) every tab signed in as ${running} first, or use another browser profile.`)
  }
}

/** Runs `body` with no other tab of the origin checking or taking the node's lock meanwhile. */
export async function registering<T> (locks: LockManager, body: () => Promise<T>): Promise<T> {
  return await locks.request(REGISTER_LOCK, body)
}

/** Runs `body` (the node's lock held) with this tab's mark held, let go when it ends. */
export async function marked<T> (locks: LockManager, user: NodeUser, body: () => Promise<T>): Promise<T> {
  return await locks.request(`${MARK_PREFIX}${encodeURIComponent(user.key)} ${encodeURIComponent(user.who)}`, body)
}

/**
 * The user of the page node running in this origin, if a tab runs one. A
 * tab that has just got the node's lock (a take-over) marks it a moment
 * later: that moment is waited out.
 */
export async function runningUser (locks: LockManager, signal: AbortSignal): Promise<NodeUser | undefined> {
  for (let waited = 0; ; waited += MARK_POLL_MS) {
    const { held = [] } = await locks.query()
    const mark = held.find(l => l.name?.startsWith(MARK_PREFIX) === true)?.name
    if (mark !== undefined) {
      const [key = '', who = ''] = mark.slice(MARK_PREFIX.length).split(' ').map(decodeURIComponent)
      return { key, who }
    }
    if (!held.some(l => l.name === PAGE_NODE_LOCK) || waited >= MARK_WAIT_MS) return undefined
    await pause(MARK_POLL_MS, signal)
    signal.throwIfAborted()
  }
}
