import type { Context } from '../context.js'
import { isoDate } from '../respond.js'
import { xmlResponse } from '../xml.js'
import { OWNER } from '../owner.js'

export async function listBuckets (ctx: Context): Promise<Response> {
  const buckets = await ctx.store.listBuckets({ signal: ctx.signal })
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map(b => ({ Name: b.name, CreationDate: isoDate(b.created) })) },
  })
}
