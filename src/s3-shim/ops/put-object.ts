import { askedLock } from '../http/object-lock.js'
import { streamOfBytes } from '../../core/streams.js'
import type { Context } from '../context.js'
import { checksumHeaders } from '../http/checksum-headers.js'
import { conditionOf } from '../http/conditions.js'
import { checkStorageClass, metadataFromHeaders, tagsFromHeader } from '../http/metadata.js'
import { expirationHeaders } from '../lifecycle-xml.js'
import { ENTRY_HEADER, quoteEtag, meshWriteHeaders } from '../respond.js'
import { mayOnKey } from '../access/key-probe.js'
import { applyObjectAcl, requestedAcl } from './get-acl.js'

export async function putObject (ctx: Context): Promise<Response> {
  const acl = requestedAcl(ctx)
  checkStorageClass(ctx.headers)
  const metadata = metadataFromHeaders(ctx.headers)
  const tags = tagsFromHeader(ctx.headers)
  const { body, size, verified, checksum, checksumAlgorithm, blob } = ctx.body()
  // A tab writing through its node asks for the new version's catalog entry with the answer (one round trip fewer).
  const returnEntry = ctx.headers.get(ENTRY_HEADER) === '1' && mayReadEntry(ctx)
  const info = await ctx.store.putObject(ctx.bucket, ctx.key, body ?? streamOfBytes(new Uint8Array(0)), {
    metadata, tags, size, verified, checksum, checksumAlgorithm, signal: ctx.signal, ...conditionOf(ctx.headers), ...askedLock(ctx), ...(blob === undefined ? {} : { blob }), ...(returnEntry ? { returnEntry } : {}),
  })
  await applyObjectAcl(ctx, ctx.bucket, ctx.key, acl)
  return new Response(null, {
    status: 200,
    headers: {
      etag: quoteEtag(info.etag), ...checksumHeaders(checksum()), ...expirationHeaders(ctx.store, ctx.bucket, info), ...meshWriteHeaders(info),
      ...(info.sha256 === '' ? {} : { 'x-s3mesh-sha256': info.sha256 }), ...(info.versionId === undefined ? {} : { 'x-amz-version-id': info.versionId }),
      ...(returnEntry && info.entry !== undefined ? { [ENTRY_HEADER]: info.entry } : {}),
    },
  })
}

/**
 * The entry shows what a guest's lookup of the key shows (its holders, its
 * version, its lock): only to a caller that signed this request itself (not
 * whoever holds a presigned URL, who could add the header) and may read the
 * key, as the lookup is. Others get no header, and a tab asks its node instead.
 */
function mayReadEntry (ctx: Context): boolean {
  if (ctx.auth.principal.kind === 'anonymous' || ctx.identity === undefined || ctx.identity.presigned) return false
  return mayOnKey(ctx, 's3:GetObject')
}
