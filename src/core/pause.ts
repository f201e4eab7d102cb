/**
 * Resolves after `ms`, or at once when `signal` aborts; never rejects (the
 * caller looks at the signal). A retry loop's wait that a stop ends, with
 * nothing left on the signal once it resolves.
 */
export async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
