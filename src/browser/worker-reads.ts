/**
 * Reads the service worker answers by itself for a tab that joined: a key's
 * current version, held in the tab's IndexedDB. The page node knows what is
 * current (its catalog lives in the page's memory); the worker can read the
 * bytes (IndexedDB is shared). So after the page has answered a GET or HEAD
 * of a key whose copy here is current, it tells the worker, with the
 * headers it answered with (`CurrentMark`); the worker then answers that key
 * from IndexedDB without the round trip through the page, as long as its own
 * answer has the same headers. Any change the page's catalog hears of the
 * key, or of its bucket, takes the mark back (`StaleMark`) before the page
 * tells anything else. A worker the browser restarted has no marks: its
 * reads go through the page again, which marks them again.
 */
import type { CatalogEntry } from '../core/mesh/catalog-entry.js'
import type { GuestMember } from '../core/mesh/guest-member.js'
import { S3_BASE_PATH } from './worker-config.js'

/** The page to its worker: this object's copy in IndexedDB is current, and was answered with these headers. */
export interface CurrentMark { type: 's3mesh:current', method: string, path: string, headers: Array<[string, string]> }
/** The page to its worker: the catalog changed this object (`key`), or every object of `bucket`. */
export interface StaleMark { type: 's3mesh:stale', bucket: string, key?: string }

/**
 * An object's place, `bucket/key`, when a request reads its current version
 * and nothing else: a GET or HEAD with no query (no version id, part number
 * or header overrides) and no condition. Undefined for any other request.
 */
export function localReadPath (request: { method: string, url: string, headers: Headers }): string | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined
  for (const name of CONDITIONS) if (request.headers.has(name)) return undefined
  const url = new URL(request.url)
  if (url.search !== '' || !url.pathname.startsWith(`${S3_BASE_PATH}/`)) return undefined
  let path: string
  try {
    path = decodeURIComponent(url.pathname.slice(S3_BASE_PATH.length + 1))
  } catch {
    return undefined
  }
  const slash = path.indexOf('/')
  return slash > 0 && slash < path.length - 1 ? path : undefined
}

/** A read's conditions: answered with a 304 or 412, not the version's headers. */
const CONDITIONS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']

/** Headers of one request rather than of the version: two answers for the same version may differ in these. */
const PER_REQUEST = new Set(['x-amz-request-id', 'x-amz-id-2', 'date', 'content-length', 'content-range'])

/**
 * What an answer says about the version it read: its headers but those of
 * the request (its id, the range's length and place), in one order. Equal
 * for two answers means the same version, metadata, tags and lock.
 */
export function versionHeaders (headers: Headers): Array<[string, string]> {
  return [...headers].filter(([name]) => !PER_REQUEST.has(name) && !name.startsWith('x-amz-checksum-')).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}

/** A read under way in the page, as `CurrentReads.begin` saw it. */
export interface ReadToken { method: string, path: string, at: number }

/** Page side: what the page tells its worker about the reads it answered and the changes its catalog heard. */
export class CurrentReads {
  /** Catalog changes heard so far; a read marks its key only if none touched it (or its bucket) since the read began. */
  private changes = 0
  private readonly changedAt = new Map<string, number>()
  /** Reads that began before this change may have missed one (changedAt was emptied then). */
  private floor = 0
  /** What the worker was told is current, and not yet told is stale. */
  private readonly marked = new Set<string>()
  private readonly onChange = (event: CustomEvent<CatalogEntry>): void => { this.changed(event.detail.bucket, event.detail.key) }
  private readonly onEvicted = (event: CustomEvent<{ bucket: string, key: string }>): void => { this.changed(event.detail.bucket, event.detail.key) }

  constructor (private readonly guest: Pick<GuestMember, 'catalog' | 'trusts' | 'self'>, private readonly post: (message: CurrentMark | StaleMark) => void) {
    guest.catalog.addEventListener('change', this.onChange)
    guest.catalog.addEventListener('evicted', this.onEvicted)
  }

  private changed (bucket: string, key: string | undefined): void {
    this.changes++
    if (this.changedAt.size >= TRACKED_CHANGES) {
      this.changedAt.clear()
      this.floor = this.changes
    }
    this.changedAt.set(key === undefined ? `${bucket}/` : `${bucket}/${key}`, this.changes)
    // The worker is told only of what it was told is current.
    if (key !== undefined) {
      if (this.marked.delete(`${bucket}/${key}`)) this.post({ type: 's3mesh:stale', bucket, key })
      return
    }
    const inBucket = [...this.marked].filter(path => path.startsWith(`${bucket}/`))
    if (inBucket.length === 0) return
    for (const path of inBucket) this.marked.delete(path)
    this.post({ type: 's3mesh:stale', bucket })
  }

  /** Called as the page starts answering a request; the token goes to `answered`. */
  begin (request: { method: string, url: string, headers: Headers }): ReadToken | undefined {
    const path = localReadPath(request)
    return path === undefined ? undefined : { method: request.method, path, at: this.changes }
  }

  /**
   * Called with the page's answer; returns the answer to send. A HEAD's is
   * marked at once, a whole GET's once its body has been read to the end:
   * the page checks a whole read against the version's SHA-256 (a bad copy
   * ends the body with an error, and is never marked), and the worker's own
   * reads are not checked again. Ranges are not marked (not checked).
   */
  answered (token: ReadToken | undefined, response: Response): Response {
    if (token === undefined || response.status !== 200) return response
    const headers = versionHeaders(response.headers)
    if (token.method === 'HEAD' || response.body === null) {
      this.mark(token, response.headers.get('etag'), headers)
      return response
    }
    const etag = response.headers.get('etag')
    const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: () => { this.mark(token, etag, headers) } }))
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  }

  /** Tells the worker that `token`'s key is current here, if the catalog says so now and nothing changed it since the read began. */
  private mark (token: ReadToken, etag: string | null, headers: Array<[string, string]>): void {
    const slash = token.path.indexOf('/')
    const bucket = token.path.slice(0, slash)
    const key = token.path.slice(slash + 1)
    if (token.at < this.floor || (this.changedAt.get(token.path) ?? 0) > token.at || (this.changedAt.get(`${bucket}/`) ?? 0) > token.at) return
    const e = this.guest.catalog.get(bucket, key)
    // Current only where the feed keeps the tab's entry current, for a version held here.
    if (e?.object === undefined || e.deleted || !e.holders.includes(this.guest.self) || !this.guest.trusts(bucket, key)) return
    if (etag !== `"${e.object.etag}"`) return
    this.marked.add(token.path)
    this.post({ type: 's3mesh:current', method: token.method, path: token.path, headers })
  }

  stop (): void {
    this.guest.catalog.removeEventListener('change', this.onChange)
    this.guest.catalog.removeEventListener('evicted', this.onEvicted)
  }
}

/** Changes remembered for the reads under way; past this many, reads that began earlier are not marked. */
const TRACKED_CHANGES = 10_000

/** Worker side: the marks of each page node (by client id), taken back by a stale mark from any page of the origin. */
export class WorkerMarks {
  /** Per page: a path's headers, or REFUSED where an answer made here did not match them. */
  private readonly byClient = new Map<string, Map<string, string>>()

  /** Takes a page's message; true if it was a mark. */
  take (client: string, message: CurrentMark | StaleMark | { type?: string }): boolean {
    if (message.type === 's3mesh:current') {
      const m = message as CurrentMark
      let marks = this.byClient.get(client)
      if (marks === undefined) this.byClient.set(client, marks = new Map())
      // Refused stays refused until the key changes: the page marks every read it answers, and would again.
      const at = `${m.method} ${m.path}`
      if (marks.get(at) !== REFUSED) marks.set(at, JSON.stringify(m.headers))
      return true
    }
    if (message.type === 's3mesh:stale') {
      // Every page's: they share IndexedDB, and one page may hear of a change before another.
      const m = message as StaleMark
      for (const marks of this.byClient.values()) {
        const stale = m.key === undefined ? (at: string) => at.slice(at.indexOf(' ') + 1).startsWith(`${m.bucket}/`) : (at: string) => at.slice(at.indexOf(' ') + 1) === `${m.bucket}/${m.key!}`
        for (const at of marks.keys()) if (stale(at)) marks.delete(at)
      }
      return true
    }
    return false
  }

  /** The headers `client` last answered a `method` (GET or HEAD) of `path` with, while its mark stands. */
  marked (client: string, method: string, path: string): string | undefined {
    const mark = this.byClient.get(client)?.get(`${method} ${path}`)
    return mark === REFUSED ? undefined : mark
  }

  /**
   * Whether an answer made here matches the page's mark (the same version,
   * metadata, tags and lock). One that does not is not tried again until
   * the key changes: every read would pay for two answers.
   */
  matches (client: string, method: string, path: string, mark: string, response: Response): boolean {
    if ((response.status === 200 || response.status === 206) && JSON.stringify(versionHeaders(response.headers)) === mark) return true
    this.byClient.get(client)?.set(`${method} ${path}`, REFUSED)
    return false
  }

  /** Takes back every mark in `bucket`, of every page (a write to it is under way). */
  dropBucket (bucket: string): void {
    const stale: StaleMark = { type: 's3mesh:stale', bucket }
    this.take('', stale)
  }

  forget (client: string): void {
    this.byClient.delete(client)
  }
}

const REFUSED = ''
