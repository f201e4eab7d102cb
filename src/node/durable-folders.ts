import { mkdir, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { codeOf, foldersToSync } from './disk-files.js'
import type { GroupFsync } from './group-fsync.js'

/** What make (or rename) did: the folder, and the first folder it made, if any (see foldersToSync). */
export interface MadeFolders {
  dir: string
  first: string | undefined
  /** The folders made, `dir` up to `first`: unsure until their parents are fsynced. */
  made: string[]
}

/**
 * The folders of a data folder that files are renamed into, made and fsynced
 * so that a write is durable when it answers. A rename is durable once its
 * folder is fsynced; a folder mkdir made, once its parent is fsynced too. The
 * write that made a folder fsyncs its parent; another write that renames into
 * that folder (or below it) meanwhile would answer first, so each folder
 * being made is noted as unsure until that fsync has ended, and a write that
 * finds an unsure folder on its path fsyncs its parent itself. A folder whose
 * fsync failed (or whose mkdir failed half-way) stays unsure: later writes
 * into it fsync its parent again.
 */
export class DurableFolders {
  /** Folders that may have been made and whose entries in their parents are not yet known durable, each with its count of writes. */
  private readonly unsure = new Map<string, number>()

  /**
   * `root`: the data folder (its own entry is not this class's concern).
   * `syncer`: the folders' fsyncs; undefined when the store fsyncs nothing.
   */
  constructor (private readonly root: string, private readonly syncer: GroupFsync | undefined) {}

  /** Whether renames are made durable (the store fsyncs). */
  get fsync (): boolean { return this.syncer !== undefined }

  /** mkdir -p `dir`; pass the result to sync once files are renamed into it. */
  async make (dir: string): Promise<MadeFolders> {
    if (this.syncer === undefined) return { dir, first: await mkdir(dir, { recursive: true }), made: [] }
    // Noted before mkdir, from `dir` up: another write may rename into one of them the moment it is made.
    const path = this.pathOf(dir)
    for (const d of path) this.unsure.set(d, (this.unsure.get(d) ?? 0) + 1)
    // When mkdir fails they stay noted: it may have made some of them.
    const first = await mkdir(dir, { recursive: true })
    const made = first === undefined ? [] : path.slice(0, path.indexOf(first) + 1)
    // Those that were there already are no longer this write's concern.
    this.forget(path.slice(made.length))
    return { dir, first, made }
  }

  /** Renames `from` to `to`, making its folder when missing (as make); pass the result to sync. */
  async rename (from: string, to: string): Promise<MadeFolders> {
    const dir = dirname(to)
    try {
      await rename(from, to)
      return { dir, first: undefined, made: [] }
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err
    }
    const made = await this.make(dir)
    await rename(from, to)
    return made
  }

  /**
   * Makes what was renamed into `dir` durable: fsyncs `dir`, the parents of
   * the folders this write made (`made`, from make or rename), then those of
   * any folder on `dir`'s path another write made and has not yet fsynced.
   */
  async sync (dir: string, ...made: Array<MadeFolders | undefined>): Promise<void> {
    const syncer = this.syncer
    if (syncer === undefined) return
    const synced = new Set<string>()
    const mine = made.filter(m => m !== undefined && m.first !== undefined)
    for (const m of mine) {
      for (const d of foldersToSync(m!.dir, m!.first)) {
        if (!synced.has(d)) { await syncer.sync(d); synced.add(d) }
      }
    }
    if (!synced.has(dir)) { await syncer.sync(dir); synced.add(dir) }
    for (const m of mine) this.forget(m!.made)
    if (this.unsure.size === 0) return
    for (const d of this.pathOf(dir)) {
      if (!this.unsure.has(d) || synced.has(dirname(d))) continue
      await syncer.sync(dirname(d))
      synced.add(dirname(d))
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
