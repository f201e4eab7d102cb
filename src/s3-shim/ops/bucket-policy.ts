import { idOf, type BucketPolicyRecord } from '../../core/access/access-records.js'
import type { AccessControl } from '../../core/access/access-control.js'
import { MalformedPolicyError, parsePolicy, policyToKeep, POLICY_SIZE_LIMITS } from '../../core/access/policy.js'
import { S3Error } from '../../core/errors.js'
import { readAll } from '../../core/streams.js'
import type { Context } from '../context.js'
import { xmlResponse } from '../xml.js'

function accessOf (ctx: Context): AccessControl {
  if (ctx.auth.access === undefined) throw new S3Error('NotImplemented', 'This endpoint keeps no bucket policies (it knows only its own credentials).')
  return ctx.auth.access
}

function policyOf (access: AccessControl, bucket: string): BucketPolicyRecord | undefined {
  return access.state.get(idOf('bucket-policy', bucket)) as BucketPolicyRecord | undefined
}

/** PUT ?policy: the document is checked whole (MalformedPolicy, naming the statement and field) before it replaces the old one. */
export async function putBucketPolicy (ctx: Context): Promise<Response> {
  const access = accessOf(ctx)
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  const bytes = await readAll(ctx.body().body, POLICY_SIZE_LIMITS.bucket * 4 + 1, ctx.signal)
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (text.length > POLICY_SIZE_LIMITS.bucket) throw new S3Error('MalformedPolicy', `The policy is ${text.length} characters; a bucket policy may have at most ${POLICY_SIZE_LIMITS.bucket}.`)
  let kept: string
  try {
    kept = policyToKeep(text, 'bucket')
    const policy = parsePolicy(kept, 'bucket')
    const outside = policy.statements.flatMap(s => [...s.resources ?? [], ...s.notResources ?? []]).find(r => r !== `arn:aws:s3:::${ctx.bucket}` && !r.startsWith(`arn:aws:s3:::${ctx.bucket}/`))
    if (outside !== undefined) throw new MalformedPolicyError(`Policy has a resource outside the bucket ${ctx.bucket}: ${outside}.`)
  } catch (err) {
    if (err instanceof MalformedPolicyError) throw new S3Error('MalformedPolicy', err.message)
    throw err
  }
  await access.state.commit([{ kind: 'bucket-policy', bucket: ctx.bucket, document: kept }])
  return new Response(null, { status: 204 })
}

export async function getBucketPolicy (ctx: Context): Promise<Response> {
  const access = accessOf(ctx)
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  const record = policyOf(access, ctx.bucket)
  if (record === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { detail: { BucketName: ctx.bucket } })
  return new Response(record.document, { headers: { 'content-type': 'application/json' } })
}

export async function deleteBucketPolicy (ctx: Context): Promise<Response> {
  const access = accessOf(ctx)
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  await access.state.commit([], [idOf('bucket-policy', ctx.bucket)])
  return new Response(null, { status: 204 })
}

/** Public when anyone (an anonymous request) may do something in the bucket: its policy or its canned ACL says so. */
export async function getBucketPolicyStatus (ctx: Context): Promise<Response> {
  const access = accessOf(ctx)
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  const policy = access.bucketPolicy(ctx.bucket, { kind: 'anonymous' })
  const isPublic = policy?.statements.some(s => s.effect === 'Allow' && s.condition === undefined && (s.principal === '*' || (typeof s.principal === 'object' && s.principal.AWS.includes('*')))) ?? false
  return xmlResponse('PolicyStatus', { IsPublic: isPublic ? 'true' : 'false' })
}
