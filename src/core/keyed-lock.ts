/**
 * One-at-a-time sections per key (an object's commit, a multipart upload's
 * part list) without blocking other keys. Entries vanish when idle.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>()

  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>(resolve => { release = resolve })
    const tail = previous.then(() => mine)
    this.tails.set(key, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}
