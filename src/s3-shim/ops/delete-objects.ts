import { S3Error, isS3Error, UNREACHABLE } from '../../core/errors.js'
import { assertObjectKey } from '../../core/names.js'
import { permissionsFor } from '../access/request-actions.js'
import type { Context } from '../context.js'
import { deleteMatch, DIRECTORY_BUCKET_CONDITIONS } from './delete-object.js'
import { deleteKeepingAcl } from './get-acl.js'
import { elementsOf, textOf, xmlResponse, type XmlElement } from '../xml.js'

/** S3 deletes at most 1,000 keys per request. */
const MAX_DELETE = 1000

/** DeleteObjects (POST ?delete): each key succeeds or fails on its own. */
export async function deleteObjects (ctx: Context): Promise<Response> {
  const doc = await ctx.xml('Delete')
  const quietText = (textOf(doc, 'Quiet') ?? 'false').trim().toLowerCase()
  if (quietText !== 'true' && quietText !== 'false' && quietText !== '') throw new S3Error('MalformedXML', '<Quiet> is true or false.')
  const quiet = quietText === 'true'
  const objects = elementsOf(doc, 'Object')
  if (objects.length === 0) throw new S3Error('MalformedXML', 'A Delete request names at least one Object.')
  if (objects.length > MAX_DELETE) throw new S3Error('MalformedXML', `A Delete request names at most ${MAX_DELETE} objects.`)
  const keys = objects.map(o => {
    const key = textOf(o, 'Key')
    if (key === undefined) throw new S3Error('MalformedXML', 'Every Object in a Delete request needs a Key.')
    return { key, versionId: textOf(o, 'VersionId'), etag: textOf(o, 'ETag'), byTimeOrSize: ['LastModifiedTime', 'Size'].some(name => textOf(o, name) !== undefined) }
  })
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  const Deleted: XmlElement[] = []
  const Errors: XmlElement[] = []
  // Once no node could be reached at all, the keys after are answered so too rather than each waiting for them in turn
  // (a ServiceUnavailable of one key's own, a change to it half-way, leaves the others to be tried).
  let unavailable: S3Error | undefined
  for (const { key, versionId, etag, byTimeOrSize } of keys) {
    try {
      if (unavailable !== undefined) throw unavailable
      if (byTimeOrSize) throw new S3Error('NotImplemented', DIRECTORY_BUCKET_CONDITIONS)
      assertObjectKey(key)
      // A conditional delete: only if the key's current object has this ETag (any object, for *).
      const ifMatch = deleteMatch(etag, versionId, 'ETag')
      // Each key needs its own s3:DeleteObject: a refused one is reported, the others go ahead.
      if (ctx.auth.access !== undefined) ctx.auth.access.check(ctx.auth.principal, permissionsFor(ctx.route, ctx.headers, ctx.auth.client, [{ key, ...(versionId === undefined ? {} : { versionId }), ...(etag === undefined ? {} : { ifMatch: etag }) }]))
      const result = await deleteKeepingAcl(ctx, key, versionId, ifMatch)
      if (!quiet) {
        // As AWS answers: a marker made is named by DeleteMarkerVersionId alone; a version deleted by its id by VersionId (and a marker's by both).
        const made = result.deleteMarker === true && versionId === undefined
        Deleted.push({
          Key: key, ...(result.versionId === undefined || made ? {} : { VersionId: result.versionId }),
          ...(result.deleteMarker === true ? { DeleteMarker: 'true', DeleteMarkerVersionId: result.versionId } : {}),
        })
      }
    } catch (err) {
      // Any S3 error is this key's, as S3 reports it (a NotImplemented condition, a mesh that cannot reach its owners):
      // the keys before it are deleted, and failing the whole request would hide which. Anything else is a fault here.
      if (!isS3Error(err)) throw err
      if (err.code === 'ServiceUnavailable' && err.cause === UNREACHABLE) unavailable = err
      Errors.push({ Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }), Code: err.code, Message: err.message })
    }
  }
  return xmlResponse('DeleteResult', { Deleted, Error: Errors })
}
