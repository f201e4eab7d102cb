import { S3Error } from '../../core/errors.js'
import { globalContext } from '../access/request-actions.js'
import type { Context } from '../context.js'
import { isoDate } from '../respond.js'
import { xmlResponse } from '../xml.js'
import { OWNER } from '../owner.js'

export async function listBuckets (ctx: Context): Promise<Response> {
  const { principal, access } = ctx.auth
  if (principal.kind === 'anonymous') throw new S3Error('AccessDenied', 'Listing buckets needs a signed request.')
  const context = access === undefined ? {} : globalContext(ctx.headers, ctx.auth.client)
  // Only the buckets this caller may see (MinIO's behaviour); everything for root.
  const buckets = (await ctx.store.listBuckets({ signal: ctx.signal })).filter(b => access === undefined || access.seesBucket(principal, b.name, context))
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map(b => ({ Name: b.name, CreationDate: isoDate(b.created) })) },
  })
}
