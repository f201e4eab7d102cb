/**
 * Polls `check` every 100 ms until it holds; a check that throws counts as
 * not yet (a node restarting refuses connections for a moment). Resolves with
 * the time it took; fails, naming what it waited for, after `ms`.
 */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<number> {
  const start = Date.now()
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return Date.now() - start
}
