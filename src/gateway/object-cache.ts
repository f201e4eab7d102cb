import { objectPath } from '../core/names.js'
import type { ObjectInfo } from '../core/object-store.js'

/** One cached object: its info and its bytes. */
export interface CachedObject {
  info: ObjectInfo
  bytes: Uint8Array<ArrayBuffer>
}

/**
 * Whole small objects kept near the worker. The gateway store serves an entry
 * the mesh vouched for within its TTL without asking again, revalidates an
 * older one with If-None-Match, and drops an entry on any write or delete it
 * makes. When the mesh last vouched is kept by the store, in memory: an
 * answer of 304 then costs no cache write.
 */
export interface ObjectCache {
  get (bucket: string, key: string): Promise<CachedObject | undefined>
  put (bucket: string, key: string, entry: CachedObject): Promise<void>
  delete (bucket: string, key: string): Promise<void>
}

/** Cache API keys must be URLs; this host is never fetched. */
const CACHE_ORIGIN = 'https://s3mesh-cache.invalid'

/**
 * What entries hold, named in their keys: an entry of another form is never
 * read (by this release, or by an older one that shares the cache). 2: an
 * object stored with a Content-Encoding is kept as stored (the entries before
 * held the bytes fetch had decoded). 3: a tagged object's info holds the
 * tags' number, not the tags (ObjectInfo.tagCount), which a release before
 * would take for an object without tags.
 */
const ENTRY_FORM = 3

function cacheUrl (bucket: string, key: string, namespace = ''): string {
  return `${CACHE_ORIGIN}/v${ENTRY_FORM}/${encodeURIComponent(namespace)}${objectPath(bucket, key)}`
}

/** Dates become strings in JSON; they come back as Dates. */
function encodeInfo (info: ObjectInfo): string {
  return encodeURIComponent(JSON.stringify(info))
}
function decodeInfo (header: string): ObjectInfo {
  const info = JSON.parse(decodeURIComponent(header)) as ObjectInfo
  // Every Date an ObjectInfo holds: its answer's headers format them (a string would fail there).
  return {
    ...info,
    lastModified: new Date(info.lastModified),
    ...(info.expiration === undefined ? {} : { expiration: { ...info.expiration, date: new Date(info.expiration.date) } }),
    ...(info.lock?.retention === undefined ? {} : { lock: { ...info.lock, retention: { ...info.lock.retention, until: new Date(info.lock.retention.until) } } }),
  }
}

/**
 * The runtime's Cache API (Workers' `caches.default`, Deno's `caches.open`):
 * shared by the isolates of one location and kept across restarts.
 */
export class CacheApiCache implements ObjectCache {
  /**
   * @param namespace keeps apart the meshes whose workers share one cache (a
   * Workers zone's `caches.default` serves every worker on it): objects of the
   * same bucket and key in two meshes are different objects.
   */
  constructor (private readonly cache: Cache, private readonly namespace: string) {}

  /** The cache this runtime offers, or undefined when it has none (Node). */
  static async open (namespace: string, name = 's3mesh'): Promise<CacheApiCache | undefined> {
    const storage = (globalThis as { caches?: CacheStorage & { default?: Cache } }).caches
    if (storage === undefined) return undefined
    return new CacheApiCache(storage.default ?? await storage.open(name), namespace)
  }

  async get (bucket: string, key: string): Promise<CachedObject | undefined> {
    const res = await this.cache.match(cacheUrl(bucket, key, this.namespace))
    const info = res?.headers.get('x-s3mesh-info')
    if (res === undefined || info === null || info === undefined) return undefined
    const entry = { info: decodeInfo(info), bytes: new Uint8Array(await res.arrayBuffer()) }
    // Bytes that are not the object's length are not the object (a runtime that altered them): asked again.
    return entry.bytes.byteLength === entry.info.size ? entry : undefined
  }

  async put (bucket: string, key: string, entry: CachedObject): Promise<void> {
    await this.cache.put(cacheUrl(bucket, key, this.namespace), new Response(entry.bytes, {
      headers: {
        'x-s3mesh-info': encodeInfo(entry.info),
        // The Cache API evicts by its own rules; freshness is the gateway store's to decide, not this header's.
        'cache-control': 'public, max-age=31536000',
      },
    }))
  }

  async delete (bucket: string, key: string): Promise<void> {
    await this.cache.delete(cacheUrl(bucket, key, this.namespace))
  }
}

/** In the isolate's memory, least recently used first out once over `maxBytes`: where there is no Cache API. */
export class MemoryCache implements ObjectCache {
  private readonly entries = new Map<string, CachedObject>()
  private bytes = 0

  constructor (private readonly maxBytes: number) {}

  async get (bucket: string, key: string): Promise<CachedObject | undefined> {
    const id = cacheUrl(bucket, key)
    const entry = this.entries.get(id)
    if (entry !== undefined) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.entries.delete(id)
      this.entries.set(id, entry)
    }
    return entry
  }

  async put (bucket: string, key: string, entry: CachedObject): Promise<void> {
    await this.delete(bucket, key)
    if (entry.bytes.byteLength > this.maxBytes) return
    this.entries.set(cacheUrl(bucket, key), entry)
    this.bytes += entry.bytes.byteLength
    for (const [id, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(id)
      this.bytes -= old.bytes.byteLength
    }
  }

  async delete (bucket: string, key: string): Promise<void> {
    const id = cacheUrl(bucket, key)
    const old = this.entries.get(id)
    if (old === undefined) return
    this.entries.delete(id)
    this.bytes -= old.bytes.byteLength
  }
}
