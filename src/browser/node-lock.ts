import type { BrowserJoinInfo } from '../gateway/mesh-api.js'

/**
 * Which tab of an origin runs its page node, and for whom, in Web Locks. The
 * tabs share one service worker and one IndexedDB: one tab runs the node
 * (PAGE_NODE_LOCK) and the worker answers every tab through it, with the
 * keys of the last tab that told it its own. So every registered tab holds a
 * shared lock that names its access key (a tab-user lock) until it stops or
 * closes, and a tab of another key is refused while any is held: the tabs
 * that run the node, wait to run it, or only registered are all of one key.
 * A registration checks and takes its tab-user lock in one exclusive section
 * (REGISTER_LOCK), so two tabs of different keys registering at once cannot
 * both pass. A tab of an earlier release holds no tab-user lock: it is not
 * seen.
 */

/** The Web Lock held by the tab of an origin that runs its page node. */
export const PAGE_NODE_LOCK = 's3mesh:page-node'
/** A registered tab's lock: this, its access key, a space, and who that is (for messages), each URI-encoded. */
const TAB_USER_PREFIX = 's3mesh:tab-user:'
/** Held while a tab checks the tab-user locks and takes its own. */
const REGISTER_LOCK = 's3mesh:register'

/**
 * Who a tab speaks for: tabs of the same access key share the node (the
 * root's keys, a user's keys, one STS session; another session, of the same
 * user or not, may have a narrower policy, so it counts as another user).
 */
export interface TabUser {
  /** The access key id. */
  key: string
  /** `the root user`, `the user <name>` or `the access key <id>`, for messages. */
  who: string
}

export function tabUserOf (accessKeyId: string, principal?: BrowserJoinInfo['principal']): TabUser {
  const who = principal === undefined ? `the access key ${accessKeyId}` : principal.kind === 'root' ? 'the root user' : `the user ${principal.user ?? accessKeyId}`
  return { key: accessKeyId, who }
}

/**
 * Another tab of this origin is registered with other keys. Every tab of an
 * origin is answered through one page node and one set of keys in its
 * service worker, so a tab of a second user is refused rather than act as the
 * first, or make the first act as it.
 */
export class OtherUserError extends Error {
  override name = 'OtherUserError'
  /** `running`: who the other tab speaks for (TabUser.who). */
  constructor (readonly running: string) {
    super(`Another tab of this site is signed in to the mesh as ${running}, and every tab here acts with its rights: log out (or close) every tab signed in as ${running} first, or use another browser profile.`)
  }
}

/** A tab-user lock held: `release` lets it go (and resolves once it is). */
export interface HeldTabUser { release: () => Promise<void> }

/**
 * Refuses this tab (OtherUserError) if a tab of another key is registered;
 * otherwise takes this tab's tab-user lock, held until released.
 */
export async function claimTabUser (locks: LockManager, user: TabUser, signal: AbortSignal): Promise<HeldTabUser> {
  return await locks.request(REGISTER_LOCK, { signal }, async () => {
    const { held = [] } = await locks.query()
    for (const { name } of held) {
      if (name?.startsWith(TAB_USER_PREFIX) !== true) continue
      const [key, who = ''] = name.slice(TAB_USER_PREFIX.length).split(' ').map(decodeURIComponent)
      if (key !== user.key) throw new OtherUserError(who)
    }
    let letGo = (): void => {}
    const done = new Promise<void>(resolve => { letGo = resolve })
    let granted = (): void => {}
    const got = new Promise<void>(resolve => { granted = resolve })
    const lock = locks.request(`${TAB_USER_PREFIX}${encodeURIComponent(user.key)} ${encodeURIComponent(user.who)}`, { mode: 'shared', signal }, async () => { granted(); await done })
    // Shared with this key's other tabs, and no tab of another key holds it (checked above): granted at once.
    await Promise.race([got, lock])
    return { release: async () => { letGo(); await lock.catch(() => {}) } }
  })
}
