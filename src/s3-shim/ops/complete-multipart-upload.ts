import { cannedAclOf } from '../../core/access/access-records.js'
import { isS3Error, S3Error } from '../../core/errors.js'
import { fromHex, toHex } from '../../core/hashes.js'
import type { ObjectInfo } from '../../core/object-store.js'
import { objectPath } from '../../core/names.js'
import type { Context } from '../context.js'
import { checksumOfPart, checksumXml, completionChecksum } from '../http/checksum-headers.js'
import { conditionOf } from '../http/conditions.js'
import { expirationHeaders } from '../lifecycle-xml.js'
import { quoteEtag, meshWriteHeaders } from '../respond.js'
import { elementsOf, textOf, xmlResponse } from '../xml.js'
import { uploadIdOf } from '../multipart-params.js'
import { applyObjectAcl } from './get-acl.js'

export async function completeMultipartUpload (ctx: Context): Promise<Response> {
  const uploadId = uploadIdOf(ctx)
  const doc = await ctx.xml('CompleteMultipartUpload')
  const parts = elementsOf(doc, 'Part').map(p => {
    const n = (textOf(p, 'PartNumber') ?? '').trim()
    const etag = textOf(p, 'ETag')
    if (!/^\d{1,5}$/.test(n) || etag === undefined) throw new S3Error('MalformedXML', 'Every Part needs a PartNumber and an ETag.')
    const checksum = checksumOfPart(p)
    return { partNumber: Number(n), etag: etag.trim(), ...(checksum === undefined ? {} : { checksum }) }
  })
  const checksum = completionChecksum(ctx.headers)
  const type = ctx.headers.get('x-amz-checksum-type')?.toUpperCase()
  if (checksum !== undefined && type !== undefined && type !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'A checksum of the whole object is only checked for the FULL_OBJECT checksum type.')
  let info: ObjectInfo
  try {
    info = await ctx.store.completeMultipartUpload(ctx.bucket, ctx.key, uploadId, parts, { signal: ctx.signal, ...conditionOf(ctx.headers), ...(checksum === undefined ? {} : { checksum }) })
    // The new object has the ACL its upload asked for (kept with the upload), or none: it does not inherit the one it replaces.
    await applyObjectAcl(ctx, ctx.bucket, ctx.key, cannedAclOf(info.uploadAcl))
  } catch (err) {
    // A retry of a completion that went through (SDKs retry after a timeout): answered as the first was, as S3 answers
    // it, also when it is conditional (If-None-Match: *, which the object it made now fails: a mesh's write arbiter
    // refuses it before the upload is looked up).
    const retried = isS3Error(err, 'NoSuchUpload') || (isS3Error(err, 'PreconditionFailed') && await uploadGone(ctx, uploadId))
    const done = retried ? await completedAlready(ctx, parts) : undefined
    if (done === undefined) throw err
    info = done
  }
  return xmlResponse('CompleteMultipartUploadResult', {
    Location: `${ctx.url.origin}${objectPath(ctx.bucket, ctx.key)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: quoteEtag(info.etag),
    ...checksumXml(info.metadata.checksum),
    ...(info.metadata.checksum === undefined ? {} : { ChecksumType: info.metadata.checksum.type }),
  }, { headers: { ...meshWriteHeaders(info), ...expirationHeaders(ctx.store, ctx.bucket, info), ...(info.versionId === undefined ? {} : { 'x-amz-version-id': info.versionId }) } })
}

/** Whether the upload is no longer there (completed, or aborted). */
async function uploadGone (ctx: Context, uploadId: string): Promise<boolean> {
  return await ctx.store.listParts(ctx.bucket, ctx.key, uploadId, { signal: ctx.signal }).then(() => false, (err: unknown) => isS3Error(err, 'NoSuchUpload'))
}

/**
 * The object at the key, if it is what completing these parts made: its ETag
 * is the MD5 of the parts' MD5s and their count, so only an upload of the
 * same parts in the same order (the same bytes) has it. Nothing records which
 * upload id made an object (a retry may reach another node of the mesh), so
 * naming those parts under another id gets the same answer: it asks for what
 * the key already holds.
 */
async function completedAlready (ctx: Context, parts: Array<{ etag: string }>): Promise<ObjectInfo | undefined> {
  const digests = parts.map(p => fromHex(p.etag.replace(/"/g, '')))
  if (parts.length === 0 || digests.some(d => d === undefined || d.byteLength !== 16)) return undefined
  const md5 = ctx.hashes.create('md5')
  for (const d of digests) md5.update(d!)
  const etag = `${toHex(md5.digest())}-${parts.length}`
  // A key waiting for its commit to be finished (503, a completion whose rows failed after its upload went) is said as
  // such: the client tries again, and then gets the completed answer, not NoSuchUpload.
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal }).catch((err: unknown) => { if (isS3Error(err, 'ServiceUnavailable')) throw err; return undefined })
  return info?.etag === etag ? info : undefined
}
