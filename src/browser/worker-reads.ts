/**
 * Reads the service worker answers by itself for a tab that joined: a key's
 * current version, held in the tab's IndexedDB. The page node knows what is
 * current (its catalog lives in the page's memory); the worker can read the
 * bytes (IndexedDB is shared). So after the page has answered a GET or HEAD
 * of a key whose copy here is current, it tells the worker, with the
 * headers it answered with (`CurrentMark`); the worker then answers that key
 * from IndexedDB without the round trip through the page, as long as its own
 * answer has the same headers and the page's admission is the one the
 * worker decides with. Any change the page's catalog hears of the key, or
 * of its bucket, takes the mark back (`StaleMark`).
 *
 * Marks and answers travel by different channels (the page's controller
 * messages, a MessageChannel per request), which keep no order between
 * them: a page's DELETE may be answered before the worker has taken the
 * stale mark the page posted first. So every message the page posts is
 * numbered, each answer carries the number of the last one posted before
 * it, and the worker uses none of a page's marks until it has taken every
 * message numbered up to the last answer it relayed: an app that had an
 * answer never reads what the page knew was stale when it answered. A
 * worker the browser restarted has no marks: its reads go through the page
 * again, which marks them again.
 */
import type { CatalogEntry } from '../core/mesh/catalog-entry.js'
import type { GuestMember } from '../core/mesh/guest-member.js'
import { S3_BASE_PATH } from './worker-config.js'

/** The page to its worker: this object's copy in IndexedDB is current, and was answered with these headers. */
export interface CurrentMark { type: 's3mesh:current', seq: number, method: string, path: string, headers: Array<[string, string]>, admission: string }
/** The page to its worker: the catalog changed this object (`key`), or every object of `bucket`; with neither, forget every mark (a new admission). */
export interface StaleMark { type: 's3mesh:stale', seq: number, bucket?: string, key?: string }

/**
 * A short tag of an admission (base64): a mark holds only while the worker
 * decides with the admission the page answered with (a renewal may take a
 * right away). FNV-1a, 64 bits: it tells admissions apart, it guards nothing.
 */
export function admissionTag (admission: string): string {
  if (tagged?.admission === admission) return tagged.tag
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < admission.length; i++) h = ((h ^ BigInt(admission.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn
  tagged = { admission, tag: h.toString(16) }
  return tagged.tag
}
let tagged: { admission: string, tag: string } | undefined

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

  /** Messages posted so far (each is numbered: see the top of this file). */
  private posted = 0
  private stopped = false

  /**
   * @param admission the admission the page decides with now (base64)
   * @param post sends the worker a message, in order (the page's controller)
   */
  constructor (private readonly guest: Pick<GuestMember, 'catalog' | 'trusts' | 'self'>, private readonly admission: () => string, private readonly post: (message: CurrentMark | StaleMark) => void) {
    guest.catalog.addEventListener('change', this.onChange)
    guest.catalog.addEventListener('evicted', this.onEvicted)
  }

  /** The page decides with a new admission: every mark goes (the worker would decide with the old one until told). */
  renewed (): void {
    if (this.marked.size === 0) return
    this.marked.clear()
    this.post({ type: 's3mesh:stale', seq: ++this.posted })
  }

  /** The number of the last message posted: an answer sent now carries it. */
  get sent (): number {
    return this.posted
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
      if (this.marked.delete(`${bucket}/${key}`)) this.post({ type: 's3mesh:stale', seq: ++this.posted, bucket, key })
      return
    }
    const inBucket = [...this.marked].filter(path => path.startsWith(`${bucket}/`))
    if (inBucket.length === 0) return
    for (const path of inBucket) this.marked.delete(path)
    this.post({ type: 's3mesh:stale', seq: ++this.posted, bucket })
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
    // A read that ends after the page stopped serving the worker: no one would take its mark back.
    if (this.stopped) return
    const slash = token.path.indexOf('/')
    const bucket = token.path.slice(0, slash)
    const key = token.path.slice(slash + 1)
    if (token.at < this.floor || (this.changedAt.get(token.path) ?? 0) > token.at || (this.changedAt.get(`${bucket}/`) ?? 0) > token.at) return
    const e = this.guest.catalog.get(bucket, key)
    // Current only where the feed keeps the tab's entry current, for a version held here.
    if (e?.object === undefined || e.deleted || !e.holders.includes(this.guest.self) || !this.guest.trusts(bucket, key)) return
    if (etag !== `"${e.object.etag}"`) return
    this.marked.add(token.path)
    this.post({ type: 's3mesh:current', seq: ++this.posted, method: token.method, path: token.path, headers, admission: admissionTag(this.admission()) })
  }

  stop (): void {
    this.stopped = true
    this.guest.catalog.removeEventListener('change', this.onChange)
    this.guest.catalog.removeEventListener('evicted', this.onEvicted)
  }
}

/** Changes remembered for the reads under way; past this many, reads that began earlier are not marked. */
const TRACKED_CHANGES = 10_000

/** Worker side: the marks of each page node (by client id), taken back by a stale mark from any page of the origin. */
export class WorkerMarks {
  /** Per page: a read's headers (by `method path`), or REFUSED where an answer made here did not match them. */
  private readonly byClient = new Map<string, Map<string, { headers: string, admission: string }>>()
  /** Per page: the last message taken, and the highest number an answer of it carried. */
  private readonly taken = new Map<string, number>()
  private readonly answered = new Map<string, number>()
  /** Pages that said their node is down: their late marks are not taken. */
  private readonly down = new Set<string>()

  /** Takes a page's message; true if it was one of these. */
  take (client: string, message: unknown): boolean {
    if (message === null || typeof message !== 'object') return false
    const m = message as Partial<CurrentMark> | Partial<StaleMark>
    if (m.type === 's3mesh:current') {
      const c = m as CurrentMark
      this.taken.set(client, c.seq)
      if (this.down.has(client)) return true
      let marks = this.byClient.get(client)
      if (marks === undefined) this.byClient.set(client, marks = new Map())
      const at = `${c.method} ${c.path}`
      // Refused stays refused until the key changes: the page marks every read it answers, and would again.
      if (marks.get(at) === REFUSED) return true
      marks.delete(at)
      marks.set(at, { headers: JSON.stringify(c.headers), admission: c.admission })
      // Past the cap the oldest mark goes: its reads go to the page again.
      if (marks.size > MAX_MARKS) marks.delete(marks.keys().next().value!)
      return true
    }
    if (m.type === 's3mesh:stale') {
      const st = m as StaleMark
      if (client !== '') this.taken.set(client, st.seq)
      // Every page's: they share IndexedDB, and one page may hear of a change before another.
      for (const marks of this.byClient.values()) {
        if (st.bucket === undefined) marks.clear()
        // A key's marks by name (a page may hold thousands); a bucket's by looking through them.
        else if (st.key !== undefined) for (const method of READS) marks.delete(`${method} ${st.bucket}/${st.key}`)
        else for (const at of marks.keys()) if (at.slice(at.indexOf(' ') + 1).startsWith(`${st.bucket}/`)) marks.delete(at)
      }
      return true
    }
    return false
  }

  /** An answer of `client` numbered `seq` was relayed: its marks wait until every message up to it is taken. */
  relayed (client: string, seq: number | undefined): void {
    if (seq !== undefined && seq > (this.answered.get(client) ?? 0)) this.answered.set(client, seq)
  }

  /**
   * What `client` last answered a `method` (GET or HEAD) of `path` with,
   * while its mark stands, the worker decides with the same admission
   * (`admission`, base64) and has taken every message the page posted
   * before its answers.
   */
  marked (client: string, method: string, path: string, admission: string): Mark | undefined {
    if ((this.taken.get(client) ?? 0) < (this.answered.get(client) ?? 0)) return undefined
    const mark = this.byClient.get(client)?.get(`${method} ${path}`)
    return mark === undefined || mark === REFUSED || mark.admission !== admissionTag(admission) ? undefined : mark
  }

  /**
   * Whether an answer made here for a mark may be given: the mark still
   * stands (nothing took it back while IndexedDB was read) and the answer
   * has its headers (the same version, metadata, tags and lock). One that
   * read a version with other headers, or none, is not tried again until
   * the key changes (every read would pay for two answers); any other
   * answer (a bad range, a moment's error) goes to the page this once.
   */
  matches (client: string, method: string, path: string, mark: Mark, response: Response): boolean {
    const marks = this.byClient.get(client)
    const at = `${method} ${path}`
    if (marks === undefined || marks.get(at) !== mark || (this.taken.get(client) ?? 0) < (this.answered.get(client) ?? 0)) return false
    const read = response.status === 200 || response.status === 206
    if (read && JSON.stringify(versionHeaders(response.headers)) === mark.headers) return true
    if (read || response.status === 404) marks.set(at, REFUSED)
    return false
  }

  /** Takes back every mark in `bucket`, of every page (a write to it is under way). */
  dropBucket (bucket: string): void {
    this.take('', { type: 's3mesh:stale', seq: 0, bucket } satisfies StaleMark)
  }

  /** A page's node is up (again): it starts with no marks, numbering from one. */
  up (client: string): void {
    this.forget(client)
    this.down.delete(client)
  }

  /** A page's node is down: its marks go, and those still on their way are not taken. */
  stop (client: string): void {
    this.forget(client)
    this.down.add(client)
  }

  /** Forgets a page (gone, or its node down). */
  forget (client: string): void {
    this.byClient.delete(client)
    this.taken.delete(client)
    this.answered.delete(client)
  }
}

/** A page's mark as the worker keeps it. */
export interface Mark { headers: string, admission: string }

const REFUSED: Mark = { headers: '', admission: '' }
/** The methods a mark is kept for (localReadPath's). */
const READS = ['GET', 'HEAD']
/** Marks kept per page; the oldest go past it. */
const MAX_MARKS = 10_000
