import { isS3Error, S3Error } from '../core/errors.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import type {
  BucketInfo, ByteRange, CompletedPart, CorsRule, DeleteOptions, ListOptions, ListResult, ObjectHandle, ObjectInfo,
  ObjectStore, PartInfo, PartOptions, PutOptions, Signal, UploadInfo, UploadOptions, CompleteOptions, VersionOptions, VersionTags, LockOptions,
} from '../core/object-store.js'
import type { BucketObjectLock, LockChange, VersionLock } from '../core/object-lock.js'
import { bypassHeader, lockOfAnswer, lockRequestHeaders, objectLockOf, putObjectLock, putVersionLock } from './gateway-object-lock.js'
import { withChecksum } from '../core/object-store.js'
import type { DeleteResult, VersioningStatus, VersionListOptions, VersionListResult, VersionSummary } from '../core/versioning.js'
import { readAll } from '../core/streams.js'
import { checksumFromHeaders, checksumHeaders, checksumXml } from '../s3-shim/http/checksum-headers.js'
import { sameSecond } from '../s3-shim/http/conditions.js'
import { metadataFromHeaders, parsePartSizes } from '../s3-shim/http/metadata.js'
import { storedEncodingHeaders } from '../s3-shim/http/stored-encoding.js'
import { ENTRY_HEADER, quoteEtag } from '../s3-shim/respond.js'
import { lifecycleFromXml, lifecycleXml } from '../s3-shim/lifecycle-xml.js'
import { parseXmlBody, renderXml } from '../s3-shim/xml.js'
import { CHECKSUM_MODE, conditionHeaders, digestHeaders, expirationOf, versionHeader, versionQuery, withChecksumOf, withPartSizes, writeHeaders } from './gateway-headers.js'
import { childrenOf, flat, inOrder, list, ruleOf, text, textIn, unquote, xmlOf, type Ordered, type Xml } from './gateway-xml.js'
import type { ObjectCache } from './object-cache.js'
import { listAllParts, listAllUploads } from './gateway-uploads.js'
import { sha256Hex, type RemoteS3 } from './remote-s3.js'

export interface GatewayStoreOptions {
  /** The mesh's nodes, over S3. */
  remote: RemoteS3
  /** Where small objects are kept near the worker; none: every GET goes to the mesh. */
  cache?: ObjectCache
  /** A cached object checked this recently is served without asking the mesh, ms; older ones are revalidated (If-None-Match). */
  cacheTtlMs: number
  /** Objects up to this size are cached (whole). */
  cacheMaxObjectBytes: number
  /** Bodies up to this size are held in memory so a write can be retried on another node; larger ones stream to one node. */
  replayableBytes: number
  /**
   * Asks the node to answer a write with its catalog entry when the caller
   * wants it (PutOptions.returnEntry, x-s3mesh-entry). Only for nodes as
   * trusted as the caller's own origin, whose answers' headers it reads
   * whole: cross-origin, the request header needs the bucket's CORS rules to
   * allow it and the answer's to expose it. Without it the caller asks.
   */
  askEntries?: boolean
  now?: () => number
}

/** How many objects' freshness the store remembers (a few hundred KB at most). */
const VOUCHED_LIMIT = 10_000

/** A multipart upload stays on the node that began it: its id here carries that node's index. */
function uploadOn (uploadId: string): { endpoint: number, id: string } {
  const m = /^(\d+)\.(.+)$/.exec(uploadId)
  if (m === null) throw new S3Error('NoSuchUpload')
  return { endpoint: Number(m[1]), id: m[2]! }
}

/**
 * The whole body, up to `limit` bytes (core's readAll, which says EntityTooLarge beyond).
 * Stream chunks are never backed by shared memory: typed so, for Response and WebCrypto.
 */
async function bytesOf (body: ReadableStream<Uint8Array>, limit: number, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
  return await readAll(body, limit, signal) as Uint8Array<ArrayBuffer>
}

/** A handle over bytes in hand (a cached object). */
function bytesHandle (info: ObjectInfo, bytes: Uint8Array<ArrayBuffer>): ObjectHandle {
  return {
    info,
    stream: (range?: ByteRange) => new Response(range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)).body!,
    close: async () => {},
  }
}

/**
 * An ObjectStore whose objects live in the mesh: every operation is an S3
 * request to one of the mesh's nodes (signed with the worker's credentials,
 * failing over between nodes), so the unchanged S3 handler can run where no
 * libp2p node can, an edge worker. Small objects are cached near the worker,
 * served from there while fresh and revalidated by ETag after.
 */
export class GatewayStore implements ObjectStore {
  private readonly remote: RemoteS3
  private readonly now: () => number
  /** When the mesh last said which version of an object is current, by `bucket/key`. */
  private readonly vouched = new Map<string, { etag: string, at: number }>()

  constructor (private readonly options: GatewayStoreOptions) {
    this.remote = options.remote
    this.now = options.now ?? Date.now
  }

  async createBucket (name: string, options: Signal = {}): Promise<void> {
    await this.remote.send({ method: 'PUT', bucket: name, signal: options.signal })
  }

  /** The bucket's CORS rules (which also says whether it exists) and, from the listing, when it was made. */
  async headBucket (name: string, options: Signal = {}): Promise<BucketInfo> {
    const [cors, lifecycle, versioning, buckets] = await Promise.all([this.corsOf(name, options.signal), this.lifecycleOf(name, options.signal), this.versioningOf(name, options.signal), this.listBuckets(options)])
    const created = buckets.find(b => b.name === name)?.created ?? new Date()
    // Object lock needs versioning Enabled: asked only then, so other buckets cost no request more.
    const objectLock = versioning === 'Enabled' ? await objectLockOf(this.remote, name, options.signal) : undefined
    return {
      name, created, ...(cors === undefined ? {} : { cors }), ...(lifecycle === undefined ? {} : { lifecycle }), ...(versioning === undefined ? {} : { versioning }),
      ...(objectLock === undefined ? {} : { objectLock }),
    }
  }

  /** The bucket's versioning; none as well to credentials that may not ask (the bucket's other settings are still theirs to read). */
  private async versioningOf (name: string, signal?: AbortSignal): Promise<VersioningStatus | undefined> {
    try {
      const { response } = await this.remote.send({ method: 'GET', bucket: name, query: { versioning: '' }, signal })
      const status = text(await xmlOf(response, 'VersioningConfiguration'), 'Status')
      return status === 'Enabled' || status === 'Suspended' ? status : undefined
    } catch (err) {
      if (isS3Error(err, 'AccessDenied')) return undefined
      throw err
    }
  }

  async setBucketVersioning (name: string, status: VersioningStatus, options: Signal = {}): Promise<void> {
    const body = renderXml('VersioningConfiguration', { Status: status })
    await this.remote.send({ method: 'PUT', bucket: name, query: { versioning: '' }, body, headers: { 'content-type': 'application/xml' }, signal: options.signal })
    // What the node vouched for was said without version ids (or with the null one's): asked again.
    for (const id of [...this.vouched.keys()]) if (id.startsWith(`${name}/`)) this.vouched.delete(id)
  }

  async setBucketObjectLock (name: string, lock: BucketObjectLock, options: Signal = {}): Promise<void> {
    await putObjectLock(this.remote, name, lock, options.signal)
  }

  /** Changes a version's retention or legal hold on the node, and answers the lock it has now. */
  async setObjectLock (bucket: string, key: string, change: LockChange, options: LockOptions = {}): Promise<VersionLock | undefined> {
    await putVersionLock(this.remote, bucket, key, change, options)
    await this.forget(bucket, key)
    const { bypassGovernance: _asked, ...read } = options
    // The change is made; what it made is read back where the credentials may read the object.
    try {
      return (await this.headObject(bucket, key, read)).lock
    } catch (err) {
      if (isS3Error(err, 'AccessDenied')) return undefined
      throw err
    }
  }

  /** A page of the bucket's versions and delete markers, in the answer's order (S3 interleaves the two kinds). */
  async listObjectVersions (bucket: string, options: VersionListOptions): Promise<VersionListResult> {
    const query: Record<string, string> = { versions: '', 'max-keys': String(options.limit) }
    if (options.prefix !== undefined && options.prefix !== '') query.prefix = options.prefix
    if (options.keyMarker !== undefined) query['key-marker'] = options.keyMarker
    if (options.versionIdMarker !== undefined) query['version-id-marker'] = options.versionIdMarker
    const { response } = await this.remote.send({ method: 'GET', bucket, query, signal: options.signal })
    const root = childrenOf(inOrder.parse(await response.text()) as Ordered).find(([name]) => name === 'ListVersionsResult')
    if (root === undefined) throw new S3Error('InternalError', 'A mesh node answered without the expected <ListVersionsResult> document.')
    const versions: VersionSummary[] = []
    let isTruncated = false
    for (const [name, children] of childrenOf(root[1])) {
      if (name === 'IsTruncated') isTruncated = textIn(children) === 'true'
      if (name !== 'Version' && name !== 'DeleteMarker') continue
      const v = flat(children)
      const deleteMarker = name === 'DeleteMarker'
      versions.push({
        key: text(v, 'Key'), versionId: text(v, 'VersionId'), isLatest: text(v, 'IsLatest') === 'true', deleteMarker, lastModified: new Date(text(v, 'LastModified')),
        ...(deleteMarker ? {} : { size: Number(text(v, 'Size')), etag: unquote(text(v, 'ETag')) }),
      })
    }
    return { versions, isTruncated }
  }

  private async lifecycleOf (name: string, signal?: AbortSignal): Promise<LifecycleRule[] | undefined> {
    try {
      const { response } = await this.remote.send({ method: 'GET', bucket: name, query: { lifecycle: '' }, signal })
      return lifecycleFromXml(parseXmlBody(new Uint8Array(await response.arrayBuffer()), 'LifecycleConfiguration'))
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchLifecycleConfiguration') return undefined
      throw err
    }
  }

  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined, options: Signal = {}): Promise<void> {
    if (rules === undefined) {
      await this.remote.send({ method: 'DELETE', bucket: name, query: { lifecycle: '' }, signal: options.signal })
      return
    }
    const body = renderXml('LifecycleConfiguration', lifecycleXml(rules))
    await this.remote.send({ method: 'PUT', bucket: name, query: { lifecycle: '' }, body, headers: { 'content-type': 'application/xml' }, signal: options.signal })
  }

  private async corsOf (name: string, signal?: AbortSignal): Promise<CorsRule[] | undefined> {
    try {
      const { response } = await this.remote.send({ method: 'GET', bucket: name, query: { cors: '' }, signal })
      return list(await xmlOf(response, 'CORSConfiguration'), 'CORSRule').map(ruleOf)
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchCORSConfiguration') return undefined
      throw err
    }
  }

  async listBuckets (options: Signal = {}): Promise<BucketInfo[]> {
    const { response } = await this.remote.send({ method: 'GET', signal: options.signal })
    const doc = await xmlOf(response, 'ListAllMyBucketsResult')
    return list((doc.Buckets ?? {}) as Xml, 'Bucket').map(b => ({ name: text(b, 'Name'), created: new Date(text(b, 'CreationDate')) }))
  }

  async deleteBucket (name: string, options: Signal = {}): Promise<void> {
    await this.remote.send({ method: 'DELETE', bucket: name, signal: options.signal })
  }

  async setBucketCors (name: string, rules: CorsRule[] | undefined, options: Signal = {}): Promise<void> {
    if (rules === undefined) {
      await this.remote.send({ method: 'DELETE', bucket: name, query: { cors: '' }, signal: options.signal })
      return
    }
    const body = renderXml('CORSConfiguration', {
      CORSRule: rules.map(r => ({ ID: r.id, AllowedOrigin: r.allowedOrigins, AllowedMethod: r.allowedMethods, AllowedHeader: r.allowedHeaders, ExposeHeader: r.exposeHeaders, MaxAgeSeconds: r.maxAgeSeconds })),
    })
    await this.remote.send({ method: 'PUT', bucket: name, query: { cors: '' }, body, headers: { 'content-type': 'application/xml' }, signal: options.signal })
  }

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    if (options.copyOf !== undefined || options.copyOfAtEnd !== undefined) throw new S3Error('NotImplemented', 'A gateway does not keep replicas.')
    const sent = await this.body(body, options.size, options.signal, options.blob)
    // A body in hand is hashed here (once): the node checks the signed hash, and the info reports it.
    const sha256 = options.verified?.sha256 ?? (sent.body instanceof ReadableStream ? undefined : await sha256Hex(sent.body))
    if (sha256 !== undefined) options.onHashed?.(sha256)
    const wire = withChecksumOf(sent, options)
    const { response } = await this.remote.send({
      method: 'PUT', bucket, key, body: wire.body, size: wire.size,
      headers: {
        ...writeHeaders(options.metadata, options.tags), ...digestHeaders(options.verified), ...wire.headers, ...conditionHeaders(options.condition), ...lockRequestHeaders(options.lock),
        ...(this.asksEntry(options) ? { [ENTRY_HEADER]: '1' } : {}),
      },
      sha256: wire.sha256 ?? sha256,
      signal: options.signal,
    })
    const checksum = options.checksum?.()
    await this.forget(bucket, key)
    const replicas = response.headers.get('x-s3mesh-replicas')
    const entry = this.asksEntry(options) ? response.headers.get(ENTRY_HEADER) : null
    return {
      key,
      size: sent.size,
      etag: unquote(response.headers.get('etag') ?? ''),
      lastModified: new Date(Date.parse(response.headers.get('date') ?? '') || this.now()),
      sha256: sha256 ?? response.headers.get('x-s3mesh-sha256') ?? '',
      metadata: withChecksum(options.metadata, checksum === undefined ? undefined : { ...checksum, type: 'FULL_OBJECT' }),
      tags: options.tags ?? {},
      ...(replicas === null ? {} : { replicas: Number(replicas) }),
      ...(entry === null ? {} : { entry }),
      ...versionHeader(response.headers),
      ...expirationOf(response.headers.get('x-amz-expiration')),
    }
  }

  private asksEntry (options: PutOptions): boolean {
    return options.returnEntry === true && this.options.askEntries === true
  }

  /**
   * A body in memory when small enough to send again elsewhere (the caller's
   * Blob as it is, unread); otherwise the stream, which needs its length.
   */
  private async body (body: ReadableStream<Uint8Array>, size: number | undefined, signal?: AbortSignal, blob?: Blob): Promise<{ body: Uint8Array<ArrayBuffer> | Blob | ReadableStream<Uint8Array>, size: number }> {
    if (blob !== undefined && blob.size <= this.options.replayableBytes && (size === undefined || size === blob.size)) {
      await body.cancel().catch(() => {})
      return { body: blob, size: blob.size }
    }
    if (size !== undefined && size > this.options.replayableBytes) return { body, size }
    let bytes: Uint8Array<ArrayBuffer>
    try {
      bytes = await bytesOf(body, this.options.replayableBytes, signal)
    } catch (err) {
      if (!isS3Error(err, 'EntityTooLarge')) throw err
      throw size === undefined
        ? new S3Error('MissingContentLength', `A body over ${this.options.replayableBytes} bytes needs a Content-Length.`)
        : new S3Error('IncompleteBody', `The body is longer than the ${size} bytes declared.`)
    }
    if (size !== undefined && bytes.byteLength !== size) throw new S3Error('IncompleteBody', `The body has ${bytes.byteLength} bytes; ${size} were declared.`)
    return { body: bytes, size: bytes.byteLength }
  }

  async headObject (bucket: string, key: string, options: VersionOptions = {}): Promise<ObjectInfo> {
    const { response } = await this.remote.send({ method: 'HEAD', bucket, key, query: versionQuery(options), headers: CHECKSUM_MODE, signal: options.signal })
    return this.infoOf(key, response.headers)
  }

  /**
   * The object's info from the node's GET/HEAD headers. Its tags are counted,
   * not read: reading them is another request, which needs
   * s3:GetObjectTagging, and a GET or HEAD answers only their number
   * (`objectTags` reads them).
   */
  private infoOf (key: string, h: Headers): ObjectInfo {
    const partSizes = parsePartSizes(h.get('x-s3mesh-part-sizes'))
    // The node sends S3's part count with a part's read only; for any read its part sizes say it, or (an object completed
    // before they were kept) its ETag's -N.
    const parts = h.get('x-amz-mp-parts-count') ?? (partSizes === undefined ? /-(\d+)"?$/.exec(h.get('etag') ?? '')?.[1] ?? null : String(partSizes.reduce((n, [, count]) => n + count, 0)))
    const tagCount = Number(h.get('x-amz-tagging-count') ?? 0)
    return {
      key,
      size: Number(h.get('content-length') ?? 0),
      etag: unquote(h.get('etag') ?? ''),
      lastModified: new Date(h.get('last-modified') ?? 0),
      sha256: h.get('x-s3mesh-sha256') ?? '',
      metadata: withPartSizes(withChecksum(metadataFromHeaders(storedEncodingHeaders(h)), checksumFromHeaders(h)), partSizes),
      tags: {},
      ...(Number.isSafeInteger(tagCount) && tagCount > 0 ? { tagCount } : {}),
      ...(parts === null ? {} : { parts: Number(parts) }),
      ...versionHeader(h),
      ...expirationOf(h.get('x-amz-expiration')),
      ...lockOfAnswer(h),
    }
  }

  async openObject (bucket: string, key: string, options: VersionOptions = {}): Promise<ObjectHandle> {
    const { cache } = this.options
    // The cache holds each key's current version; one named by id is read from the mesh.
    if (cache === undefined || options.versionId !== undefined) {
      const { response, endpoint } = await this.remote.send({ method: 'GET', bucket, key, query: versionQuery(options), headers: CHECKSUM_MODE, signal: options.signal })
      return this.streamingHandle(bucket, key, this.infoOf(key, response.headers), response, endpoint, options)
    }
    const id = `${bucket}/${key}`
    const known = this.vouched.get(id)
    const lookup = cache.get(bucket, key).catch(() => undefined)
    if (known !== undefined && this.now() - known.at < this.options.cacheTtlMs) {
      const cached = await lookup
      if (cached?.info.etag === known.etag) return bytesHandle(cached.info, cached.bytes)
    }
    // Asked at once when this isolate knows the ETag; after a restart, the cache says which one it holds.
    const etag = known?.etag ?? (await lookup)?.info.etag
    let { response, endpoint } = await this.remote.send({
      method: 'GET', bucket, key, signal: options.signal,
      headers: { ...CHECKSUM_MODE, ...(etag === undefined ? {} : { 'if-none-match': quoteEtag(etag) }) },
    })
    if (response.status === 304) {
      const cached = await lookup
      // The same ETag may be another version (a restore copies an old one's bytes): the 304 names the version it means.
      // Or the same bytes written again with other metadata (a copy onto itself, REPLACE): its Last-Modified moved.
      if (cached !== undefined && cached.info.etag === etag && (response.headers.get('x-amz-version-id') ?? undefined) === cached.info.versionId &&
        sameSecond(response.headers.get('last-modified'), cached.info.lastModified)) {
        this.vouch(id, etag)
        return bytesHandle(cached.info, cached.bytes)
      }
      // Evicted between the two: ask again, for the bytes this time.
      ({ response, endpoint } = await this.remote.send({ method: 'GET', bucket, key, headers: CHECKSUM_MODE, signal: options.signal }))
    }
    const info = this.infoOf(key, response.headers)
    if (info.size <= this.options.cacheMaxObjectBytes) {
      // The node declared the size: more bytes than that is EntityTooLarge, not a cache miss.
      const bytes = await bytesOf(response.body!, this.options.cacheMaxObjectBytes, options.signal)
      // Awaited, not left running: a worker's isolate may stop once the response is sent.
      await cache.put(bucket, key, { info, bytes }).catch(() => { /* a cache that refuses only makes a slower worker */ })
      this.vouch(id, info.etag)
      return bytesHandle(info, bytes)
    }
    return this.streamingHandle(bucket, key, info, response, endpoint, options)
  }

  /** Notes that the mesh said `etag` is current now; the oldest notes go first past VOUCHED_LIMIT. */
  private vouch (id: string, etag: string): void {
    this.vouched.delete(id)
    this.vouched.set(id, { etag, at: this.now() })
    if (this.vouched.size > VOUCHED_LIMIT) this.vouched.delete(this.vouched.keys().next().value!)
  }

  /** Forgets what the mesh said of an object this store just changed. */
  private async forget (bucket: string, key: string): Promise<void> {
    this.vouched.delete(`${bucket}/${key}`)
    await this.options.cache?.delete(bucket, key)
  }

  /** A whole-object answer already flowing; a range asks the node again for that version only (the one named, and If-Match). */
  private streamingHandle (bucket: string, key: string, info: ObjectInfo, response: Response, endpoint: number, named: VersionOptions): ObjectHandle {
    let body: ReadableStream<Uint8Array> | null = response.body
    const release = async (): Promise<void> => { const b = body; body = null; await b?.cancel().catch(() => {}) }
    return {
      info,
      stream: (range?: ByteRange) => {
        if (range === undefined && body !== null) { const b = body; body = null; return b }
        void release()
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
        void this.remote.send({
          method: 'GET', bucket, key, endpoint, query: versionQuery(named),
          headers: { 'if-match': quoteEtag(info.etag), ...(range === undefined ? {} : { range: `bytes=${range.start}-${range.end}` }) },
        // The reader may cancel (a client gone, a copy the store refused): the pipe's rejection then is no one's to hear.
        }).then(async ({ response }) => { await response.body!.pipeTo(writable) }, async (err: unknown) => { await writable.abort(err) }).catch(() => {})
        return readable
      },
      close: release,
    }
  }

  /** A delete by the node: a marker made, or a version removed, as its answer says. */
  async deleteObject (bucket: string, key: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    // S3 has no such condition: the mesh's lifecycle runner, which asks it, runs on a node.
    if (options.onlyIf !== undefined) throw new S3Error('NotImplemented', 'A gateway cannot delete a version only if it is noncurrent (or alone): S3 has no such condition.')
    const match = conditionHeaders(options.ifMatch === undefined ? undefined : { ifMatch: options.ifMatch })
    const { response } = await this.remote.send({ method: 'DELETE', bucket, key, query: versionQuery(options), headers: { ...bypassHeader(options.bypassGovernance), ...match }, signal: options.signal })
    await this.forget(bucket, key)
    return { ...versionHeader(response.headers), ...(response.headers.get('x-amz-delete-marker') === 'true' ? { deleteMarker: true } : {}) }
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(options.limit) }
    if (options.prefix !== undefined && options.prefix !== '') query.prefix = options.prefix
    if (options.startAfter !== undefined) query['start-after'] = options.startAfter
    const { response } = await this.remote.send({ method: 'GET', bucket, query, signal: options.signal })
    const doc = await xmlOf(response, 'ListBucketResult')
    return {
      objects: list(doc, 'Contents').map(c => ({ key: text(c, 'Key'), size: Number(text(c, 'Size')), etag: unquote(text(c, 'ETag')), lastModified: new Date(text(c, 'LastModified')) })),
      isTruncated: text(doc, 'IsTruncated') === 'true',
    }
  }

  /** The version's tags, as the node answers GetObjectTagging (the caller's s3:GetObjectTagging, and no more, is asked). */
  async objectTags (bucket: string, key: string, options: VersionOptions = {}): Promise<VersionTags> {
    const { response } = await this.remote.send({ method: 'GET', bucket, key, query: { tagging: '', ...versionQuery(options) }, signal: options.signal })
    const set = (await xmlOf(response, 'Tagging')).TagSet as Xml | undefined
    return { tags: Object.fromEntries(list(set ?? {}, 'Tag').map(t => [text(t, 'Key'), text(t, 'Value')])), ...versionHeader(response.headers) }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options: VersionOptions = {}): Promise<void> {
    const body = renderXml('Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } })
    await this.remote.send({ method: 'PUT', bucket, key, query: { tagging: '', ...versionQuery(options) }, body, headers: { 'content-type': 'application/xml' }, signal: options.signal })
    await this.forget(bucket, key)
  }

  async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> {
    const headers = { ...writeHeaders(options.metadata, options.tags), ...lockRequestHeaders(options.lock) }
    const { response, endpoint } = await this.remote.send({ method: 'POST', bucket, key, query: { uploads: '' }, headers, signal: options.signal })
    return `${endpoint}.${text(await xmlOf(response, 'InitiateMultipartUploadResult'), 'UploadId')}`
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> {
    const { endpoint, id } = uploadOn(uploadId)
    const wire = withChecksumOf(await this.body(body, options.size, options.signal), options)
    const { response } = await this.remote.send({
      method: 'PUT', bucket, key, endpoint, query: { partNumber: String(partNumber), uploadId: id }, body: wire.body, size: wire.size,
      headers: { ...digestHeaders(options.verified), ...wire.headers }, sha256: wire.sha256 ?? options.verified?.sha256, signal: options.signal,
    })
    const checksum = checksumFromHeaders(response.headers)
    return { partNumber, etag: unquote(response.headers.get('etag') ?? ''), size: wire.decodedSize, lastModified: new Date(this.now()), ...(checksum === undefined ? {} : { checksum: { algorithm: checksum.algorithm, value: checksum.value } }) }
  }

  async listParts (bucket: string, key: string, uploadId: string, options: Signal = {}): Promise<PartInfo[]> {
    const { endpoint, id } = uploadOn(uploadId)
    return await listAllParts(this.remote, bucket, key, endpoint, id, options.signal)
  }

  /** Uploads live on the node that began them: every node is asked. */
  async listMultipartUploads (bucket: string, options: { prefix?: string } & Signal = {}): Promise<UploadInfo[]> {
    return await listAllUploads(this.remote, bucket, options.prefix, options.signal)
  }

  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> {
    const { endpoint, id } = uploadOn(uploadId)
    const body = renderXml('CompleteMultipartUpload', { Part: parts.map(p => ({ PartNumber: p.partNumber, ETag: quoteEtag(unquote(p.etag)), ...checksumXml(p.checksum) })) })
    const headers = { 'content-type': 'application/xml', ...conditionHeaders(options.condition), ...checksumHeaders(options.checksum) }
    const { response } = await this.remote.send({ method: 'POST', bucket, key, endpoint, query: { uploadId: id }, body, headers, signal: options.signal })
    // S3 may answer 200 and put the error in the body (the answer starts before the work ends).
    const answer = await response.text()
    const code = /<Error>[\s\S]*?<Code>([^<]*)<\/Code>/.exec(answer)?.[1]
    if (code !== undefined) throw new S3Error('InternalError', `Completing the upload failed on the mesh node: ${code}`)
    await this.forget(bucket, key)
    // The version completed: the current one, unless another write came in between (only then asked by its id, which
    // needs the version rights).
    const { signal } = options
    const completed = versionHeader(response.headers)
    const head = await this.headObject(bucket, key, signal === undefined ? {} : { signal })
    return head.versionId === completed.versionId ? head : await this.headObject(bucket, key, { ...(signal === undefined ? {} : { signal }), ...completed })
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string, options: Signal = {}): Promise<void> {
    const { endpoint, id } = uploadOn(uploadId)
    await this.remote.send({ method: 'DELETE', bucket, key, endpoint, query: { uploadId: id }, signal: options.signal })
  }
}
