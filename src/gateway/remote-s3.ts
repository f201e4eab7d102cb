import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../core/s3-signer.js'
import { AbortError, isS3ErrorCode, S3Error, UNREACHABLE } from '../core/errors.js'
import { toHex } from '../core/hashes.js'
import { objectPath } from '../core/names.js'
import { UNSIGNED_PAYLOAD } from '../s3-shim/auth/sigv4.js'
import { uriEncode } from '../s3-shim/auth/uri-encode.js'
import { RAW_BODY } from '../s3-shim/http/stored-encoding.js'

export interface RemoteS3Options {
  /** S3 endpoints of mesh nodes (`http://node-a:9000`); any of them serves the whole mesh. */
  endpoints: string[]
  /** Credentials towards the mesh: every request is signed (SigV4) with them. */
  accessKeyId: string
  secretAccessKey: string
  /** With STS temporary credentials. */
  sessionToken?: string
  /** Headers every request carries (a tab's mark that its service worker lets them through to the node). */
  headers?: Record<string, string>
  /**
   * How long a node may take to start answering a request without a body
   * before the next one is tried, ms. A request with a body has no such limit
   * (the upload takes as long as the link needs; the caller's signal ends it).
   */
  timeoutMs: number
  /** How long a node that failed is passed over before it is tried again, ms. */
  retryAfterMs: number
  /**
   * Hand bodies in memory to fetch as Blobs. Chromium copies a byte-array
   * body on the calling thread (about 35 ms a MiB, 100 ms until the upload
   * ends, against 2 ms and 20 ms for the same bytes as a Blob), so the
   * browser's stores set it; Node sends bytes as they are.
   */
  blobBodies?: boolean
  /**
   * Keep answers out of the HTTP cache (a browser's): a node's answers carry
   * Last-Modified and no Cache-Control, so a browser would serve a later
   * HEAD or GET of the same URL from an earlier answer, with the headers a
   * version had then (its tags count, its lock). The browser's stores set it.
   */
  noHttpCache?: boolean
  /**
   * Read objects as stored: a node answers a GET's or HEAD's Content-Encoding
   * in a header fetch does not act on (s3-shim/http/stored-encoding.ts), so
   * that a gzip object is not decoded on its way. For a reader that passes
   * objects on as S3 (an edge worker).
   */
  rawBodies?: boolean
  /** The clock (tests pass their own). */
  now?: () => number
}

export interface RemoteRequest {
  method: string
  /** Bucket and key, unencoded; the key may be absent. */
  bucket?: string
  key?: string
  query?: Record<string, string>
  headers?: Record<string, string>
  /** Bytes (or a Blob) can be sent again to another node; a stream goes to one node only. */
  body?: Uint8Array<ArrayBuffer> | Blob | string | ReadableStream<Uint8Array>
  /** The body's length, for a stream (S3 needs Content-Length on a PUT). */
  size?: number
  /** Hex SHA-256 of the body when known: signed, so the node checks the bytes against it. */
  sha256?: string
  /** Send to this endpoint (by index) and no other: a multipart upload lives on the node that began it. */
  endpoint?: number
  signal?: AbortSignal
}

export interface RemoteResponse {
  response: Response
  /** Which endpoint answered (by index). */
  endpoint: number
}

/** Answers that say the node, not the request, is the problem: another node may do better. */
const NODE_TROUBLE = new Set([502, 503, 504])

/**
 * Whether a failed fetch surely never reached a node (nothing listens there,
 * or the name does not resolve), as each runtime says it: Node (undici) in
 * the error's cause's code, Bun in its own code, Deno in its message. A
 * runtime that says neither (Workers, browsers) is taken to have sent it.
 */
function neverSent (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown, cause?: { code?: unknown } } | undefined
  const code = e?.cause?.code ?? e?.code
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ConnectionRefused') return true
  return typeof e?.message === 'string' && /\(Connect\).*Connection refused|error trying to connect.*Connection refused/i.test(e.message)
}

/**
 * Cloudflare's answers for an origin it could not reach: 521 (refused) and
 * 523 (unreachable) say the node never had the request; 522 (timed out) may
 * also come after the node had it, so only a request safe to repeat goes on.
 */
const ORIGIN_UNREACHED = new Set([521, 523])
const ORIGIN_TIMED_OUT = 522

/**
 * An S3 client for the mesh's nodes over fetch (Web-standard: Workers, Deno,
 * Node). Each request is signed for the node it goes to; a node that cannot be
 * reached, does not start answering within the timeout or answers 502-504 is
 * passed over for a while and the next one is tried, as long as the body can
 * be sent again. Answers other than 2xx and 304 become the node's S3Error.
 */
export class RemoteS3 {
  private readonly client: AwsClient
  private readonly downUntil: number[]
  /** Where the last request succeeded: requests stick to a healthy node. */
  private preferred = 0
  private readonly now: () => number

  /** The nodes' S3 endpoints, in the order configured. */
  get endpoints (): readonly string[] { return this.options.endpoints }

  constructor (private readonly options: RemoteS3Options) {
    if (options.endpoints.length === 0) throw new Error('RemoteS3 needs at least one endpoint')
    this.client = s3Signer(options)
    this.downUntil = options.endpoints.map(() => 0)
    this.now = options.now ?? Date.now
  }

  /** Sends a request, failing over between nodes; throws the node's S3Error for an S3 error answer. */
  async send (req: RemoteRequest): Promise<RemoteResponse> {
    const replayable = !(req.body instanceof ReadableStream)
    // A conditional write or delete lost on its way back may have been made: sent again elsewhere, it would be refused
    // (412, 404) though it happened. It goes on only where the node surely did not act: a connection refused, a 503.
    const conditional = req.method !== 'GET' && req.method !== 'HEAD' && Object.keys(req.headers ?? {}).some(h => /^if-(none-)?match$/i.test(h))
    let lastError: unknown
    for (const endpoint of this.order(req.endpoint)) {
      if (req.signal?.aborted === true) throw new AbortError()
      let response: Response
      try {
        response = await this.attempt(endpoint, req)
      } catch (err) {
        if (aborted(req.signal)) throw new AbortError()
        lastError = err
        this.downUntil[endpoint] = this.now() + this.options.retryAfterMs
        if (conditional && !neverSent(err)) {
          throw new S3Error('ServiceUnavailable', `No answer came from ${this.options.endpoints[endpoint]!} to a conditional request, which may have been made there: read the object before sending it again.`)
        }
        if (!replayable) break
        continue
      }
      // A proxy's 502 or 504 does not say whether the node acted.
      const trouble = NODE_TROUBLE.has(response.status) || ORIGIN_UNREACHED.has(response.status) || response.status === ORIGIN_TIMED_OUT
      if (trouble && replayable && req.endpoint === undefined && (!conditional || response.status === 503 || ORIGIN_UNREACHED.has(response.status))) {
        lastError = await errorOf(response)
        this.downUntil[endpoint] = this.now() + this.options.retryAfterMs
        continue
      }
      this.downUntil[endpoint] = 0
      if (req.endpoint === undefined) this.preferred = endpoint
      if (response.ok || response.status === 304) return { response, endpoint }
      throw await errorOf(response)
    }
    if (lastError instanceof S3Error) throw lastError
    throw new S3Error('ServiceUnavailable', `No mesh node answered (${this.options.endpoints.join(', ')}): ${lastError instanceof Error ? lastError.message : String(lastError)}`, { cause: UNREACHABLE })
  }

  /** The preferred node first, then the others; nodes recently down go last rather than never. */
  private order (only?: number): number[] {
    if (only !== undefined) {
      if (only < 0 || only >= this.options.endpoints.length) throw new S3Error('NoSuchUpload', 'That upload was begun through a mesh node this worker no longer knows.')
      return [only]
    }
    const n = this.options.endpoints.length
    const all = Array.from({ length: n }, (_, i) => (this.preferred + i) % n)
    const now = this.now()
    return [...all.filter(i => this.downUntil[i]! <= now), ...all.filter(i => this.downUntil[i]! > now)]
  }

  private async attempt (endpoint: number, req: RemoteRequest): Promise<Response> {
    const url = new URL(this.options.endpoints[endpoint]!.replace(/\/+$/, ''))
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${req.bucket === undefined ? '/' : objectPath(req.bucket, req.key)}`
    // Percent-encoded as SigV4 encodes (a space is %20): URLSearchParams writes a space as `+`, which S3 (and a node) read as a plus.
    const query = Object.entries(req.query ?? {}).map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`).join('&')
    if (query !== '') url.search = query
    const headers: Record<string, string> = { ...this.options.headers, ...req.headers }
    if (this.options.rawBodies === true && (req.method === 'GET' || req.method === 'HEAD')) headers[RAW_BODY] = '1'
    const body = req.body
    if (body !== undefined) {
      headers['x-amz-content-sha256'] = req.sha256 ?? (body instanceof ReadableStream ? UNSIGNED_PAYLOAD : await sha256Hex(body))
      const size = typeof body === 'string' ? new TextEncoder().encode(body).byteLength : body instanceof Uint8Array ? body.byteLength : body instanceof Blob ? body.size : req.size
      if (size !== undefined) headers['content-length'] = String(size)
    }
    const signed = await this.client.sign(url.toString(), { method: req.method, headers })
    // The timeout covers waiting for the answer to begin, not streaming it, and not sending a body.
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    req.signal?.addEventListener('abort', onAbort, { once: true })
    const timer = body !== undefined ? undefined : setTimeout(() => { controller.abort(new Error(`no answer within ${this.options.timeoutMs} ms`)) }, this.options.timeoutMs)
    try {
      return await fetch(signed.url, {
        method: req.method,
        headers: signed.headers,
        body: body instanceof ReadableStream ? fixedLength(body, req.size) : this.options.blobBodies === true && body instanceof Uint8Array ? new Blob([body]) : body,
        signal: controller.signal,
        // Reads only: a browser sends a no-store request with Cache-Control: no-cache, which a write would keep as the object's.
        ...(this.options.noHttpCache === true && (req.method === 'GET' || req.method === 'HEAD') ? { cache: 'no-store' } : {}),
        // Node (undici) needs this to send a stream; other runtimes ignore it.
        duplex: 'half',
      } as RequestInit)
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason
      throw err
    } finally {
      clearTimeout(timer)
      req.signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** A function, so that TypeScript does not assume the flag unchanged across an await. */
function aborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** Workers send a stream of unknown length chunked; S3 wants Content-Length, which FixedLengthStream gives them. */
function fixedLength (body: ReadableStream<Uint8Array>, size: number | undefined): ReadableStream<Uint8Array> {
  const Fixed = (globalThis as { FixedLengthStream?: new (n: number) => TransformStream<Uint8Array, Uint8Array> }).FixedLengthStream
  return Fixed === undefined || size === undefined ? body : body.pipeThrough(new Fixed(size))
}

export async function sha256Hex (body: Uint8Array<ArrayBuffer> | Blob | string): Promise<string> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body instanceof Blob ? await body.arrayBuffer() : body
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
}

/** Headers an error answer carries that the client must see too: a delete marker's, read (404) or named (405). */
const ERROR_HEADERS = ['x-amz-delete-marker', 'x-amz-version-id', 'last-modified', 'allow']

/**
 * The node's S3 error as an S3Error with the same code (InternalError for
 * codes s3mesh does not know), with a delete marker's headers. A HEAD's
 * answer has no body: the node names its code in x-s3mesh-error-code, and
 * where it does not, the status says what it can.
 */
async function errorOf (response: Response): Promise<S3Error> {
  const text = await response.text().catch(() => '')
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? response.headers.get('x-s3mesh-error-code') ?? undefined
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1]
  const passed = ERROR_HEADERS.flatMap(name => { const v = response.headers.get(name); return v === null ? [] : [[name, v] as const] })
  const options = passed.length === 0 || response.headers.get('x-amz-delete-marker') === null ? {} : { headers: Object.fromEntries(passed) }
  if (code !== undefined && isS3ErrorCode(code)) return new S3Error(code, message === undefined ? undefined : unescapeXml(message), options)
  if (response.status === 404) return new S3Error('NoSuchKey', undefined, options)
  if (response.status === 405) return new S3Error('MethodNotAllowed', undefined, options)
  if (response.status === 403) return new S3Error('AccessDenied')
  return new S3Error('InternalError', `A mesh node answered ${response.status}${code === undefined ? '' : ` ${code}`}${message === undefined ? '' : `: ${unescapeXml(message)}`}`)
}

function unescapeXml (s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: '\'', amp: '&' })[e]!)
}
