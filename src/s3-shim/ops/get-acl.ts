import type { Context } from '../context.js'
import { xmlResponse } from '../xml.js'
import { OWNER } from '../owner.js'

function acl (): Response {
  return xmlResponse('AccessControlPolicy', {
    Owner: OWNER,
    AccessControlList: {
      Grant: {
        Grantee: { '@xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@xsi:type': 'CanonicalUser', ...OWNER },
        Permission: 'FULL_CONTROL',
      },
    },
  })
}

/** s3mesh has no ACLs: the owner has full control of everything. Tools such as s3cmd `info` ask. */
export async function getBucketAcl (ctx: Context): Promise<Response> {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  return acl()
}

export async function getObjectAcl (ctx: Context): Promise<Response> {
  await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  return acl()
}
