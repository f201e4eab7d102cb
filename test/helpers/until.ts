/**
 * Polls `check` every `everyMs` (100 ms) until it holds; a check that throws counts as
 * not yet (a node restarting refuses connections for a moment). Resolves with
 * the time it took; fails, naming what it waited for (and what `detail` says
 * of the state then), after `ms`.
 */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms = 15_000, detail?: () => string | Promise<string>, everyMs = 100): Promise<number> {
  const start = Date.now()
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() - start > ms) {
      const state = detail === undefined ? '' : `: ${await Promise.resolve().then(detail).catch((err: unknown) => `(no detail: ${String(err)})`)}`
      throw new Error(`timed out after ${ms} ms waiting until ${what}${state}`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  return Date.now() - start
}
