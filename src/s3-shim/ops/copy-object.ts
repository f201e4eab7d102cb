import { askedLock } from '../http/object-lock.js'
import { conditionOf } from '../http/conditions.js'
import { NULL_VERSION } from '../../core/versioning.js'
import { S3Error } from '../../core/errors.js'
import { MAX_PUT_SIZE } from '../../core/multipart.js'
import { objectTags } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { checkStorageClass, metadataFromHeaders, tagsFromHeader } from '../http/metadata.js'
import { madeAt, quoteEtag } from '../respond.js'
import { expirationHeaders } from '../lifecycle-xml.js'
import { xmlResponse } from '../xml.js'
import { letGo, openCopySource, parseCopySource } from '../copy-source.js'
import { applyObjectAcl, requestedAcl } from './get-acl.js'

function directive (ctx: Context, header: string): 'COPY' | 'REPLACE' {
  const v = (ctx.headers.get(header) ?? 'COPY').toUpperCase()
  if (v !== 'COPY' && v !== 'REPLACE') throw new S3Error('InvalidArgument', `Unknown ${header}: ${v}`, { detail: { ArgumentName: header, ArgumentValue: v } })
  return v
}

/** Headers with which a copy of an object onto itself changes it, as S3 sees it, though its metadata and tags stay. */
const IN_PLACE_CHANGES = ['x-amz-storage-class', 'x-amz-website-redirect-location']

/** CopyObject: server-side copy, keeping or replacing metadata and tags. */
export async function copyObject (ctx: Context): Promise<Response> {
  const source = parseCopySource(ctx)
  const acl = requestedAcl(ctx)
  const metadataDirective = directive(ctx, 'x-amz-metadata-directive')
  const taggingDirective = directive(ctx, 'x-amz-tagging-directive')
  // A version copied onto its own key is a restore, allowed as S3 allows it. So is a copy that asks for another storage
  // class or redirect (how S3 changes them in place; s3mesh keeps one class, as a PUT with that header does), which
  // tools send to rewrite an object. One that asks for encryption was refused before (http/encryption.ts).
  checkStorageClass(ctx.headers)
  const changesAttributes = IN_PLACE_CHANGES.some(h => ctx.headers.has(h))
  const unchanged = source.bucket === ctx.bucket && source.key === ctx.key && metadataDirective === 'COPY' && taggingDirective === 'COPY' && !changesAttributes
  const illegal = (): S3Error => new S3Error('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.')
  if (unchanged && source.versionId === undefined) throw illegal()
  // The copy's lock is the request's (or the bucket's default), never the source's; a bad one is refused before the source is opened.
  const lock = askedLock(ctx)
  // A conditional copy (If-None-Match: *, If-Match: <etag>) is checked against the target as a PUT's is, when it commits.
  const condition = conditionOf(ctx.headers)
  const handle = await openCopySource(ctx, source)
  // As S3: one copy is at most 5 GiB; a larger object is copied in parts (UploadPartCopy with ranges).
  if (handle.info.size > MAX_PUT_SIZE) {
    await handle.close()
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_SIZE}. Copy it in parts (UploadPartCopy with x-amz-copy-source-range).`)
  }
  // The null version is restored by a copy onto its key once another version is current (as S3 restores it); while it is the current one, it is the object itself.
  if (unchanged && source.versionId === NULL_VERSION && await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal }).then(i => (i.versionId ?? NULL_VERSION) === NULL_VERSION, () => false)) {
    await handle.close()
    throw illegal()
  }
  // The copy is one part: the source's part sizes do not apply, nor a checksum made of parts'; a full-object checksum is of the same bytes.
  const { checksum: sourceChecksum, checksumPlan: _plan, partSizes: _sizes, ...kept } = handle.info.metadata
  const metadata = metadataDirective === 'REPLACE' ? metadataFromHeaders(ctx.headers) : kept
  const checksum = sourceChecksum?.type === 'FULL_OBJECT' ? { algorithm: sourceChecksum.algorithm, value: sourceChecksum.value } : undefined
  let tags: Record<string, string>
  try {
    tags = taggingDirective === 'REPLACE'
      ? tagsFromHeader(ctx.headers) ?? {}
      // A store that only counts a version's tags (a gateway) reads them apart, as the version named was asked for.
      : handle.info.tagCount === undefined ? handle.info.tags : (await objectTags(ctx.store, source.bucket, source.key, { signal: ctx.signal, ...(source.versionId === undefined ? {} : { versionId: source.versionId }) })).tags
  } catch (err) {
    await handle.close()
    throw err
  }
  const body = handle.stream()
  let info
  try {
    info = await ctx.store.putObject(ctx.bucket, ctx.key, body, { metadata, tags, size: handle.info.size, checksum: () => checksum, signal: ctx.signal, ...lock, ...condition })
  } catch (err) {
    // A store that refuses before it reads the body leaves the source open otherwise.
    await letGo(body, handle, err)
    throw err
  }
  await applyObjectAcl(ctx, ctx.bucket, ctx.key, acl)
  const headers: Record<string, string> = { ...expirationHeaders(ctx.store, ctx.bucket, info) }
  const sourceVersion = handle.info.versionId ?? source.versionId
  if (sourceVersion !== undefined) headers['x-amz-copy-source-version-id'] = sourceVersion
  if (info.versionId !== undefined) headers['x-amz-version-id'] = info.versionId
  return xmlResponse('CopyObjectResult', { ETag: quoteEtag(info.etag), LastModified: madeAt(info.lastModified) }, { headers })
}
