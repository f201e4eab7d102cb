import { syncDir } from './disk-files.js'

interface DirState {
  running: Promise<void> | undefined
  /** The round that starts after the running one: everyone who asks meanwhile shares it. */
  next: Promise<void> | undefined
}

/**
 * Group commit for directory fsyncs. A rename is durable once its folder is
 * fsynced after it; commits that land in one folder while an fsync of it is
 * running all wait for one more fsync, started when the running one ends, so
 * N concurrent writers cost about two fsyncs instead of N.
 */
export class DirSyncer {
  private readonly dirs = new Map<string, DirState>()

  /** `fsyncDir` is the real directory fsync; tests pass a counting one. */
  constructor (private readonly fsyncDir: (dir: string) => Promise<void> = syncDir) {}

  async sync (dir: string): Promise<void> {
    let state = this.dirs.get(dir)
    if (state === undefined) {
      state = { running: undefined, next: undefined }
      this.dirs.set(dir, state)
    }
    const s = state
    if (s.running === undefined) {
      s.running = this.fsyncDir(dir).finally(() => { this.finish(dir, s) })
      return await s.running
    }
    // An fsync is in flight but may have started before our rename: join the next one.
    s.next ??= s.running.catch(() => {}).then(async () => {
      s.next = undefined
      s.running = this.fsyncDir(dir).finally(() => { this.finish(dir, s) })
      await s.running
    })
    return await s.next
  }

  private finish (dir: string, s: DirState): void {
    s.running = undefined
    if (s.next === undefined) this.dirs.delete(dir)
  }
}
