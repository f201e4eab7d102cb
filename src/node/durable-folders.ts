import { lstat, mkdir, rename, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { codeOf, foldersToSync } from './disk-files.js'
import type { GroupFsync } from './group-fsync.js'

/** What make (or rename) did: pass it to sync once files are in place, or to abandon when the write fails first. */
export interface MadeFolders {
  dir: string
  /** The first folder mkdir made, if any (see foldersToSync). */
  first: string | undefined
  /** The folders made, `dir` up to `first`: unsure until their parents are fsynced. */
  made: string[]
  /** Synced or abandoned (or nothing made): nothing is left to do for them. */
  settled: boolean
}

/**
 * The folders of a data folder that files are renamed into, made and fsynced
 * so that a write is durable when it answers. A rename is durable once its
 * folder is fsynced; a folder mkdir made, once its parent is fsynced too. The
 * write that made a folder fsyncs its parent; another write that renames into
 * that folder (or below it) meanwhile would answer first, so each folder a
 * write may make is noted as unsure before its mkdir, until that fsync has
 * ended, and a write that finds an unsure folder on its path fsyncs its parent
 * itself. A folder whose parent's fsync failed stays unsure until a later
 * write's fsync of that parent succeeds (writes fail while it fails).
 */
export class DurableFolders {
  /** Folders that may have been made and whose entries in their parents are not yet known durable, each with its count of writes. */
  private readonly unsure = new Map<string, number>()
  /** Folders whose parent's fsync failed, no write left to retry it: the next write into one does. */
  private readonly failed = new Set<string>()

  /**
   * `root`: the data folder, absolute (its own entry is not this class's concern).
   * `syncer`: the folders' fsyncs; undefined when the store fsyncs nothing.
   */
  constructor (private readonly root: string, private readonly syncer: GroupFsync | undefined) {}

  /** mkdir -p `dir`; pass the result to sync once files are renamed into it (or to abandon). */
  async make (dir: string): Promise<MadeFolders> {
    if (this.syncer === undefined) return { dir, first: await mkdir(dir, { recursive: true }), made: [], settled: true }
    // Noted before mkdir, from `dir` up: another write may rename into one of them the moment it is made.
    const path = this.pathOf(dir)
    for (const d of path) this.unsure.set(d, (this.unsure.get(d) ?? 0) + 1)
    let first: string | undefined
    try {
      first = await mkdir(dir, { recursive: true })
    } catch (err) {
      // It may have made some of them.
      await this.release(path)
      throw err
    }
    // (A first not on the path, as for a folder outside the data folder, counts the whole path as made.)
    const at = first === undefined ? -1 : path.indexOf(first)
    const made = first === undefined ? [] : at === -1 ? path : path.slice(0, at + 1)
    // Those that were there already are no longer this write's concern.
    this.forget(path.slice(made.length))
    return { dir, first, made, settled: first === undefined }
  }

  /** Makes `dir` (as make), then runs `write`, which needs it; if that fails, what was made is abandoned. Pass the result to sync. */
  async fill (dir: string, write: () => Promise<void>): Promise<MadeFolders> {
    const made = await this.make(dir)
    try {
      await write()
    } catch (err) {
      await this.abandon(made)
      throw err
    }
    return made
  }

  /** Renames `from` to `to`, making its folder when missing (as make); pass the result to sync. */
  async rename (from: string, to: string): Promise<MadeFolders> {
    const dir = dirname(to)
    try {
      await rename(from, to)
      return { dir, first: undefined, made: [], settled: true }
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err
    }
    return await this.fill(dir, async () => { await rename(from, to) })
  }

  /**
   * Makes what was renamed into `dir` durable: fsyncs `dir`, the parents of
   * the folders this write made (`made`, from make or rename), then those of
   * any folder on `dir`'s path another write made and has not yet fsynced.
   * When a parent's fsync fails, the folders made are abandoned.
   */
  async sync (dir: string, ...made: Array<MadeFolders | undefined>): Promise<void> {
    const syncer = this.syncer
    if (syncer === undefined) return
    const synced = new Set<string>()
    const once = async (d: string): Promise<void> => {
      if (synced.has(d)) return
      await syncer.sync(d)
      synced.add(d)
    }
    const mine = made.filter((m): m is MadeFolders => m !== undefined && !m.settled)
    try {
      for (const m of mine) for (const d of foldersToSync(m.dir, m.first)) await once(d)
    } catch (err) {
      await this.abandon(...mine)
      throw err
    }
    for (const m of mine) {
      m.settled = true
      this.forget(m.made)
    }
    await once(dir)
    if (this.unsure.size === 0 && this.failed.size === 0) return
    for (const d of this.pathOf(dir)) {
      if (!this.unsure.has(d) && !this.failed.has(d)) continue
      await once(dirname(d))
      // d was there before that fsync began (this write's file is below it): its entry is durable now.
      this.failed.delete(d)
    }
  }

  /**
   * Fsyncs `dir` (or the nearest folder above it that is there) and every
   * folder above it up to the data folder: for a start-up that finishes or
   * undoes a change a crash cut off, which cannot know what the change made
   * or whether its fsyncs ran.
   */
  async syncPath (dir: string): Promise<void> {
    const syncer = this.syncer
    if (syncer === undefined) return
    let d = dir
    while (d.length > this.root.length && !(await stat(d).then(s => s.isDirectory(), () => false))) d = dirname(d)
    // (A folder outside the data folder, which no caller has, is fsynced alone.)
    const inside = d === this.root || d.startsWith(this.root + '/')
    for (const f of inside ? [...this.pathOf(d), this.root] : [d]) await syncer.sync(f)
  }

  /**
   * For a write that made folders and fails before sync: each one still
   * there is fsynced in its parent (another write may have renamed into it
   * meanwhile, counting on this one's fsync), and its note dropped; one whose
   * fsync fails stays unsure.
   */
  async abandon (...made: Array<MadeFolders | undefined>): Promise<void> {
    for (const m of made) {
      if (m === undefined || m.settled) continue
      m.settled = true
      await this.release(m.made)
    }
  }

  /** The folders noted as unsure (for tests: none once writes have settled). */
  unsureFolders (): string[] { return [...new Set([...this.unsure.keys(), ...this.failed])] }

  private async release (folders: string[]): Promise<void> {
    for (const d of folders) {
      const there = await lstat(d).then(s => s.isDirectory(), () => false)
      if (there) {
        try { await this.syncer?.sync(dirname(d)) } catch { this.failed.add(d) }
      }
      this.forget([d])
    }
  }

  /** `dir` and the folders above it, up to (not including) the data folder. */
  private pathOf (dir: string): string[] {
    const out: string[] = []
    for (let d = dir; d.length > this.root.length && d.startsWith(this.root + '/'); d = dirname(d)) out.push(d)
    return out
  }

  private forget (folders: string[]): void {
    for (const d of folders) {
      const n = (this.unsure.get(d) ?? 0) - 1
      if (n > 0) this.unsure.set(d, n)
      else this.unsure.delete(d)
    }
  }
}
