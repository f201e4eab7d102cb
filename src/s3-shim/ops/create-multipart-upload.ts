import { checksumPlan } from '../../core/checksums.js'
import type { Context } from '../context.js'
import { planHeaders } from '../http/checksum-headers.js'
import { askedLock } from '../http/object-lock.js'
import { checkStorageClass, metadataFromHeaders, tagsFromHeader } from '../http/metadata.js'
import { xmlResponse } from '../xml.js'
import { requestedAcl } from './get-acl.js'

/** A canned ACL given here applies when the upload completes (the store keeps it with the upload). */
export async function createMultipartUpload (ctx: Context): Promise<Response> {
  checkStorageClass(ctx.headers)
  const acl = requestedAcl(ctx)
  const plan = checksumPlan(ctx.headers.get('x-amz-checksum-algorithm'), ctx.headers.get('x-amz-checksum-type'))
  const uploadId = await ctx.store.createMultipartUpload(ctx.bucket, ctx.key, {
    metadata: { ...metadataFromHeaders(ctx.headers), ...(plan === undefined ? {} : { checksumPlan: plan }) }, tags: tagsFromHeader(ctx.headers), signal: ctx.signal, ...askedLock(ctx),
    ...(acl === undefined || acl === 'private' ? {} : { acl }),
  })
  return xmlResponse('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: uploadId }, { headers: planHeaders(plan) })
}
