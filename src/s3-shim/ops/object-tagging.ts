import type { Context } from '../context.js'
import { assertTags } from '../http/metadata.js'
import { childOf, elementsOf, textOf, xmlResponse } from '../xml.js'

export async function getObjectTagging (ctx: Context): Promise<Response> {
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  return xmlResponse('Tagging', { TagSet: { Tag: Object.entries(info.tags).map(([Key, Value]) => ({ Key, Value })) } })
}

export async function putObjectTagging (ctx: Context): Promise<Response> {
  const doc = await ctx.xml('Tagging')
  const set = childOf(doc, 'TagSet') ?? {}
  const tags = assertTags(elementsOf(set, 'Tag').map(t => [textOf(t, 'Key') ?? '', textOf(t, 'Value') ?? '']))
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, tags, { signal: ctx.signal })
  return new Response(null, { status: 200 })
}

export async function deleteObjectTagging (ctx: Context): Promise<Response> {
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, {}, { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
