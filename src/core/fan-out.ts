/** How far a branch may fall behind the fastest (fanOut). */
export interface FanOutLead<T> {
  /** The most a branch may hold unread, in `size` units (bytes, for byte chunks). */
  highWaterMark: number
  /** A chunk's size. */
  size: (chunk: T) => number
}

/**
 * Splits a stream into `n` branches that each see every chunk, read at the
 * pace of the slowest branch still reading. ReadableStream's tee() reads as
 * fast as the fastest branch and queues without bound for the others, so a
 * slow replica would pile a large upload up in memory; here a chunk is read
 * from the source only once every open branch has room for it. Without a
 * `lead` each branch holds at most one chunk; with one, a branch may hold up
 * to its high-water mark unread, so a branch that starts late (a replica's
 * stream still opening) does not hold the others back for small bodies.
 *
 * A branch that is cancelled drops out (the others go on); the source is
 * cancelled once every branch is. An error from the source errors every
 * open branch.
 */
export function fanOut<T> (source: ReadableStream<T>, n: number, lead?: FanOutLead<T>): Array<ReadableStream<T>> {
  const reader = source.getReader()
  interface Branch { controller?: ReadableStreamDefaultController<T>, open: boolean, wanting: (() => void) | undefined }
  const branches: Branch[] = Array.from({ length: n }, () => ({ open: true, wanting: undefined }))
  let reading = false
  let ended = false

  /** Reads the next chunk once every open branch wants one, and hands it to all of them. */
  const pump = (): void => {
    const open = branches.filter(b => b.open)
    if (reading || ended || open.length === 0 || open.some(b => b.wanting === undefined)) return
    reading = true
    reader.read().then(({ done, value }) => {
      reading = false
      const waiting = branches.filter(b => b.open)
      if (done) ended = true
      for (const b of waiting) {
        if (done) b.controller!.close()
        else b.controller!.enqueue(value)
        const wake = b.wanting
        b.wanting = undefined
        wake?.()
      }
      if (done) reader.releaseLock()
    }, (err: unknown) => {
      reading = false
      ended = true
      for (const b of branches.filter(b => b.open)) {
        b.controller!.error(err)
        const wake = b.wanting
        b.wanting = undefined
        wake?.()
      }
    })
  }

  return branches.map(b => new ReadableStream<T>({
    start (controller) { b.controller = controller },
    pull: async () => {
      if (ended) return
      await new Promise<void>(resolve => { b.wanting = resolve; pump() })
    },
    cancel: async reason => {
      b.open = false
      const wake = b.wanting
      b.wanting = undefined
      wake?.()
      if (branches.every(x => !x.open)) {
        if (!ended) { ended = true; await reader.cancel(reason).catch(() => {}) }
        return
      }
      // The others may have been waiting on this one.
      pump()
    },
  }, lead ?? { highWaterMark: 0 }))
}
