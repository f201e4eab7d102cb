import { S3Error } from '../../core/errors.js'
import { compareKeys } from '../../core/key-order.js'
import { globalContext } from '../access/request-actions.js'
import type { Context } from '../context.js'
import { madeAt } from '../respond.js'
import { continuationToken, tokenText } from '../listing.js'
import { xmlResponse } from '../xml.js'
import { OWNER } from '../owner.js'

/** S3's bounds for max-buckets. */
const MAX_BUCKETS = 10_000

/**
 * ListBuckets, with the paging S3 added in 2024: `prefix`, `max-buckets`,
 * `continuation-token` (opaque to clients: the last name listed, base64) and
 * `bucket-region` (every bucket here is in the node's region). Without
 * any of them every bucket is listed, as S3 does for an account with fewer
 * than ten thousand.
 */
export async function listBuckets (ctx: Context): Promise<Response> {
  const { principal, access } = ctx.auth
  if (principal.kind === 'anonymous') throw new S3Error('AccessDenied', 'Listing buckets needs a signed request.')
  const prefix = ctx.query.get('prefix') ?? ''
  const max = maxBuckets(ctx.query.get('max-buckets'))
  const token = ctx.query.get('continuation-token')
  const after = token === undefined || token === '' ? undefined : tokenText(token, 1024)
  const region = ctx.query.get('bucket-region')
  const context = access === undefined ? {} : globalContext(ctx.headers, ctx.auth.client)
  // Only the buckets this caller may see (MinIO's behaviour); everything for root.
  const all = (region === undefined || region === ctx.region ? await ctx.store.listBuckets({ signal: ctx.signal }) : [])
    .filter(b => b.name.startsWith(prefix) && (after === undefined || compareKeys(b.name, after) > 0))
    .filter(b => access === undefined || access.seesBucket(principal, b.name, context))
    .sort((a, b) => compareKeys(a.name, b.name))
  // Asked with any of the paging parameters, S3 pages by 10,000 and says in which region each bucket is.
  const paged = max !== undefined || token !== undefined || region !== undefined || ctx.query.has('prefix')
  const buckets = paged ? all.slice(0, max ?? MAX_BUCKETS) : all
  const truncated = buckets.length < all.length
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map(b => ({ Name: b.name, CreationDate: madeAt(b.created), ...(paged ? { BucketRegion: ctx.region } : {}) })) },
    ...(truncated ? { ContinuationToken: continuationToken(buckets.at(-1)!.name) } : {}),
    ...(ctx.query.has('prefix') ? { Prefix: prefix } : {}),
  })
}

function maxBuckets (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > MAX_BUCKETS) {
    throw new S3Error('InvalidArgument', `max-buckets must be a whole number from 1 to ${MAX_BUCKETS}.`, { detail: { ArgumentName: 'max-buckets', ArgumentValue: value } })
  }
  return Number(value)
}
