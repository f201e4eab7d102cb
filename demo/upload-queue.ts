/**
 * The upload queue: files and folders dropped or picked go up a few at a
 * time, each with its progress, speed, cancel and retry. Kept outside any
 * view, so that moving around the console does not stop an upload.
 */
import type { AwsClient } from 'aws4fetch'
import { uploadFile } from './upload.js'

export type UploadState = 'queued' | 'uploading' | 'done' | 'failed' | 'cancelled'

export interface Upload {
  id: number
  bucket: string
  key: string
  file: File
  state: UploadState
  /** Bytes sent so far. */
  loaded: number
  /** Bytes a second over the upload so far (while it runs). */
  speed: number
  error?: string
  started?: number
  controller?: AbortController
}

/** Uploads running at once: enough to keep a connection busy, few enough that each shows progress. */
const CONCURRENT = 3

export class UploadQueue {
  readonly items: Upload[] = []
  private nextId = 1
  private readonly listeners = new Set<() => void>()
  private readonly doneListeners = new Set<(u: Upload) => void>()

  constructor (private readonly client: AwsClient) {}

  subscribe (f: () => void): () => void {
    this.listeners.add(f)
    return () => { this.listeners.delete(f) }
  }

  /** Calls `f` with each upload that finishes (views refresh what they show); returns the unsubscribe. */
  onUploaded (f: (u: Upload) => void): () => void {
    this.doneListeners.add(f)
    return () => { this.doneListeners.delete(f) }
  }

  private changed (): void { for (const f of this.listeners) f() }

  add (bucket: string, files: Array<{ key: string, file: File }>): void {
    for (const { key, file } of files) this.items.push({ id: this.nextId++, bucket, key, file, state: 'queued', loaded: 0, speed: 0 })
    this.changed()
    this.pump()
  }

  cancel (id: number): void {
    const u = this.items.find(i => i.id === id)
    if (u === undefined) return
    if (u.state === 'queued') { u.state = 'cancelled'; this.changed() }
    u.controller?.abort(new DOMException('Cancelled', 'AbortError'))
  }

  retry (id: number): void {
    const u = this.items.find(i => i.id === id)
    if (u === undefined || (u.state !== 'failed' && u.state !== 'cancelled')) return
    Object.assign(u, { state: 'queued', loaded: 0, speed: 0, error: undefined })
    this.changed()
    this.pump()
  }

  /** Removes what has ended (done, failed, cancelled). */
  clearEnded (): void {
    for (let i = this.items.length - 1; i >= 0; i--) if (!['queued', 'uploading'].includes(this.items[i]!.state)) this.items.splice(i, 1)
    this.changed()
  }

  private pump (): void {
    while (this.items.filter(u => u.state === 'uploading').length < CONCURRENT) {
      const next = this.items.find(u => u.state === 'queued')
      if (next === undefined) return
      void this.run(next)
    }
  }

  private async run (u: Upload): Promise<void> {
    u.state = 'uploading'
    u.started = performance.now()
    u.controller = new AbortController()
    this.changed()
    let last = 0
    try {
      await uploadFile(this.client, u.bucket, u.key, u.file, loaded => {
        u.loaded = loaded
        u.speed = loaded / Math.max(0.001, (performance.now() - u.started!) / 1000)
        // Progress events come fast; the view needs a few a second.
        if (performance.now() - last > 100) { last = performance.now(); this.changed() }
      }, u.controller.signal)
      u.state = 'done'
      u.loaded = u.file.size
      for (const f of this.doneListeners) f(u)
    } catch (err) {
      if (u.controller.signal.aborted) u.state = 'cancelled'
      else { u.state = 'failed'; u.error = err instanceof Error ? err.message : String(err) }
    }
    this.changed()
    this.pump()
  }
}

/** Files from a drop, folders walked (their paths kept under the folder's name). */
export async function droppedFiles (data: DataTransfer): Promise<Array<{ path: string, file: File }>> {
  // Both read before the first await: a drop's data is gone once its event handler returns.
  const files = [...data.files].map(file => ({ path: file.name, file }))
  const entries = [...data.items].map(i => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => e != null)
  if (entries.length === 0) return files
  const out: Array<{ path: string, file: File }> = []
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => { (entry as FileSystemFileEntry).file(resolve, reject) })
      out.push({ path: `${path}${file.name}`, file })
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader()
      // readEntries answers in batches until it answers none.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => { reader.readEntries(resolve, reject) })
        if (batch.length === 0) break
        for (const child of batch) await walk(child, `${path}${entry.name}/`)
      }
    }
  }
  // Entries from a synthetic DataTransfer (tests) may not resolve to files: fall back to the file list.
  try {
    for (const e of entries) await walk(e, '')
  } catch {
    return files
  }
  return out.length > 0 ? out : files
}
