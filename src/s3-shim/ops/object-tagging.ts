import type { Context } from '../context.js'
import { tagsFromDocument } from '../http/metadata.js'
import { xmlResponse } from '../xml.js'
import { requestedVersion } from '../http/version-id.js'

export async function getObjectTagging (ctx: Context): Promise<Response> {
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, await requestedVersion(ctx))
  return xmlResponse('Tagging', { TagSet: { Tag: Object.entries(info.tags).map(([Key, Value]) => ({ Key, Value })) } })
}

export async function putObjectTagging (ctx: Context): Promise<Response> {
  const tags = tagsFromDocument(await ctx.xml('Tagging'))
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, tags, await requestedVersion(ctx))
  return new Response(null, { status: 200 })
}

export async function deleteObjectTagging (ctx: Context): Promise<Response> {
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, {}, await requestedVersion(ctx))
  return new Response(null, { status: 204 })
}
