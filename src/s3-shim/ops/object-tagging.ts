import { objectTags, type VersionOptions } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { tagsFromDocument } from '../http/metadata.js'
import { xmlResponse } from '../xml.js'
import { requestedVersion } from '../http/version-id.js'

/** x-amz-version-id for the version whose tags were read or changed, as S3 answers it (in a store that keeps versions). */
async function versionHeader (ctx: Context, version: VersionOptions): Promise<Record<string, string>> {
  const id = version.versionId ?? (await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal }).catch(() => undefined))?.versionId
  return id === undefined ? {} : { 'x-amz-version-id': id }
}

export async function getObjectTagging (ctx: Context): Promise<Response> {
  const { tags, versionId } = await objectTags(ctx.store, ctx.bucket, ctx.key, await requestedVersion(ctx))
  return xmlResponse('Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }, { headers: versionId === undefined ? {} : { 'x-amz-version-id': versionId } })
}

export async function putObjectTagging (ctx: Context): Promise<Response> {
  const tags = ctx.bodyTags ?? tagsFromDocument(await ctx.xml('Tagging'))
  const version = await requestedVersion(ctx)
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, tags, version)
  return new Response(null, { status: 200, headers: await versionHeader(ctx, version) })
}

export async function deleteObjectTagging (ctx: Context): Promise<Response> {
  const version = await requestedVersion(ctx)
  await ctx.store.setObjectTags(ctx.bucket, ctx.key, {}, version)
  return new Response(null, { status: 204, headers: await versionHeader(ctx, version) })
}
