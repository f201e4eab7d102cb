import { syncDir } from './disk-files.js'

interface PathState {
  running: Promise<void> | undefined
  /** The round that starts after the running one: everyone who asks meanwhile shares it. */
  next: Promise<void> | undefined
}

/**
 * Group commit for fsyncs of a path: a folder (a rename is durable once its
 * folder is fsynced after it), or a database's write-ahead log (a commit is
 * durable once the log is fsynced after it; see MetaDb). Callers that ask
 * while an fsync of the path is running all wait for one more, started when
 * the running one ends, so N concurrent writers cost about two fsyncs instead
 * of N, and none is answered by an fsync that began before it asked.
 */
export class GroupFsync {
  private readonly dirs = new Map<string, PathState>()

  /** `fsyncDir` is the real fsync of a path (by default a folder's); tests pass a counting one. */
  constructor (private readonly fsyncDir: (path: string) => Promise<void> = syncDir) {}

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

  private finish (dir: string, s: PathState): void {
    s.running = undefined
    if (s.next === undefined) this.dirs.delete(dir)
  }
}
