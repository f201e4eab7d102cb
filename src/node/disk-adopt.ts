import { lstat, readdir, readFile } from 'node:fs/promises'
import mime from 'mime'
import { toHex, type Hashes } from '../core/hashes.js'
import type { KeyedLock } from '../core/keyed-lock.js'
import type { ObjectInfo } from '../core/object-store.js'
import type { DiskBuckets } from './disk-buckets.js'
import type { DiskLayout } from './disk-layout.js'
import { toInfo, type MetaRecord } from './disk-records.js'
import type { DiskVersions } from './disk-versions.js'
import { closeFd, fstatFd, openFd, readAt } from './fd.js'
import type { MetaDb } from './meta-db.js'

/** Called with an object that came from a file placed by hand (see DiskStore.onAdopted). */
export type AdoptedListener = (bucket: string, info: ObjectInfo) => void

/**
 * Files that people put into a bucket folder themselves (`cp cat.jpg data/photos/`)
 * are objects too, as in MinIO's FS mode: this reads one and makes its
 * metadata. Only regular files are taken: a symlink could point anywhere.
 */
export async function describeFile (path: string, key: string, hashes: Hashes): Promise<MetaRecord | undefined> {
  const link = await lstat(path).catch(() => undefined)
  if (link === undefined || !link.isFile()) return undefined
  const fd = await openFd(path, 'r')
  try {
    const md5 = hashes.create('md5')
    const sha256 = hashes.create('sha256')
    const buffer = Buffer.allocUnsafe(1024 * 1024)
    let position = 0
    for (;;) {
      const n = await readAt(fd, buffer, buffer.length, position)
      if (n === 0) break
      md5.update(buffer.subarray(0, n))
      sha256.update(buffer.subarray(0, n))
      position += n
    }
    const s = await fstatFd(fd)
    if (s.size !== position) return undefined
    const contentType = mime.getType(key) ?? undefined
    return {
      v: 1, key, size: s.size, etag: toHex(md5.digest()), sha256: toHex(sha256.digest()), lastModified: Math.floor(s.mtimeMs),
      metadata: contentType === undefined ? { user: {} } : { contentType, user: {} }, tags: {}, hidden: false, ino: s.ino, mtimeMs: s.mtimeMs,
    }
  } finally {
    await closeFd(fd)
  }
}

/** What an Adopter works with: DiskStore's own parts. */
export interface AdopterDeps {
  layout: DiskLayout
  hashes: Hashes
  /** The store's per-key locks: an adoption holds its key's. */
  keyLocks: KeyedLock
  /** Where an adopted object's row goes. */
  db: MetaDb
  /** Versions, in buckets with versioning set: a file placed by hand there is a version of its own. */
  versions: DiskVersions
  buckets: DiskBuckets
}

/**
 * Makes objects of files found in the data folder that the metadata
 * database does not know as they are: placed or edited by hand (at a scan,
 * or when a read or a versioned write finds one), and, when the database is
 * new, hidden objects and versions found by the files kept for them.
 */
export class Adopter {
  /** Told of every object adopted (see DiskStore.onAdopted). */
  readonly listeners = new Set<AdoptedListener>()

  constructor (private readonly d: AdopterDeps) {}

  /**
   * Makes the file at a key's path the object: hashes it, writes its metadata,
   * indexes it. `previous` keeps an edited object's content type, user metadata
   * and tags. Undefined when there is no regular file.
   */
  async adopt (bucket: string, key: string, path: string, previous?: MetaRecord): Promise<MetaRecord | undefined> {
    const described = await describeFile(path, key, this.d.hashes)
    if (described === undefined) return undefined
    // Its checksum and part sizes were of the bytes before the edit: they go.
    const { checksum: _checksum, partSizes: _sizes, ...kept } = previous?.metadata ?? { user: {} }
    const meta: MetaRecord = previous === undefined
      ? described
      : { ...described, metadata: kept, tags: previous.tags, hidden: previous.hidden }
    // In a bucket with versioning set, a file placed or edited by hand is a version of its own (an edited one's bytes are gone);
    // one placed over a current version kept apart (shelved) makes that one noncurrent.
    const status = this.d.buckets.versioning(bucket)
    const apart = status !== undefined && previous === undefined ? this.d.db.get(bucket, key) : undefined
    if (status !== undefined) Object.assign(meta, this.d.versions.newVersion('Enabled'))
    if (apart?.shelved === true) await this.d.db.changeVersions(bucket, key, { current: meta, put: [apart] })
    else await this.d.db.put(bucket, meta)
    // New files and edited ones alike: either is a version the mesh should hear of.
    for (const l of this.listeners) l(bucket, toInfo(meta))
    return meta
  }

  /** Hidden objects found by the keys kept beside their bytes (a rebuild of the database). */
  async adoptHidden (signal: AbortSignal): Promise<void> {
    for (const bucket of this.d.buckets.names()) {
      const dir = this.d.layout.hiddenDir(bucket)
      for (const shard of await readdir(dir).catch(() => [] as string[])) {
        for (const name of (await readdir(`${dir}/${shard}`).catch(() => [] as string[])).filter(n => n.endsWith('.key'))) {
          if (signal.aborted) return
          const key = await readFile(`${dir}/${shard}/${name}`, 'utf8').catch(() => undefined)
          if (key === undefined || this.d.layout.hiddenKeyPath(bucket, key) !== `${dir}/${shard}/${name}`) continue
          // A visible file of the same key is the current one (a crash can leave the hidden copy it replaced).
          const visible = this.d.layout.visiblePath(bucket, key)
          if (visible !== undefined && (await lstat(visible).catch(() => undefined))?.isFile() === true) continue
          await this.d.keyLocks.run(`${bucket}/${key}`, async () => {
            if (this.d.db.has(bucket, key)) return
            const described = await describeFile(this.d.layout.hiddenPath(bucket, key), key, this.d.hashes).catch(() => undefined)
            if (described === undefined) return
            const meta = { ...described, hidden: true, ...(this.d.buckets.versioning(bucket) === undefined ? {} : this.d.versions.newVersion('Enabled')) }
            await this.d.db.put(bucket, meta)
            for (const l of this.listeners) l(bucket, toInfo(meta))
          })
        }
      }
    }
  }

  /** Versions and delete markers found by their files (a rebuild of the database). */
  async adoptVersions (signal: AbortSignal): Promise<void> {
    for (const bucket of this.d.buckets.names()) {
      await this.d.versions.rebuild(bucket, this.d.hashes, async (key, fn) => { await this.d.keyLocks.run(`${bucket}/${key}`, fn) }, signal)
    }
  }
}
