import { S3Error } from '../../core/errors.js'
import { prefixEnd } from '../../core/key-order.js'
import type { ObjectStore } from '../../core/object-store.js'
import { checkVersionId, NULL_VERSION, type VersionListOptions, type VersionListResult, type VersionSummary } from '../../core/versioning.js'
import type { Context } from '../context.js'
import { encoderFor, MAX_KEYS, parseMaxKeys } from '../listing.js'
import { OWNER } from '../owner.js'
import { madeAt, quoteEtag } from '../respond.js'
import { xmlResponseInOrder, type XmlElement } from '../xml.js'

type Entry = { kind: 'version', version: VersionSummary } | { kind: 'prefix', prefix: string }

/**
 * What a store that keeps no versions lists (a mesh member's, until the mesh
 * keeps them): each object is its key's one version, the `null` one, as S3
 * lists a bucket never versioned.
 */
function nullVersions (store: ObjectStore): (bucket: string, options: VersionListOptions) => Promise<VersionListResult> {
  return async (bucket, options) => {
    let startAfter = options.keyMarker
    for (;;) {
      const page = await store.listObjects(bucket, { ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(startAfter === undefined ? {} : { startAfter }), limit: options.limit, ...(options.signal === undefined ? {} : { signal: options.signal }) })
      // A page a store cut short with nothing in it says where to go on from.
      if (page.objects.length === 0 && page.isTruncated && page.resumeAfter !== undefined) { startAfter = page.resumeAfter; continue }
      return {
        versions: page.objects.map(o => ({ key: o.key, versionId: NULL_VERSION, isLatest: true, deleteMarker: false, lastModified: o.lastModified, size: o.size, etag: o.etag })),
        isTruncated: page.isTruncated,
      }
    }
  }
}

/**
 * ListObjectVersions: every version and delete marker of a bucket's keys, in
 * key order and each key's newest first, paged by key and version-id
 * markers, with S3's delimiter roll-up into CommonPrefixes (a prefix is
 * listed once and the walk jumps past its keys). A bucket never versioned
 * lists each object as its `null` version, in any store.
 */
export async function listObjectVersions (ctx: Context): Promise<Response> {
  const prefix = ctx.query.get('prefix') ?? ''
  const delimiter = ctx.query.get('delimiter') ?? ''
  const keyMarker = ctx.query.get('key-marker') ?? ''
  const versionIdMarker = ctx.query.get('version-id-marker') ?? ''
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'))
  const encode = encoderFor(ctx)
  if (versionIdMarker !== '') {
    if (keyMarker === '') throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { detail: { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker } })
    checkVersionId(versionIdMarker)
  }
  const list = ctx.store.listObjectVersions?.bind(ctx.store) ?? nullVersions(ctx.store)
  const entries: Entry[] = []
  let isTruncated = false
  // A key marker that names a common prefix (as NextKeyMarker does after a page that ended on one) resumes after the whole prefix.
  const onPrefix = delimiter !== '' && keyMarker.startsWith(prefix) && keyMarker.indexOf(delimiter, prefix.length) === keyMarker.length - delimiter.length
  let cursor: { keyMarker?: string, versionIdMarker?: string } = keyMarker === '' ? {} : { keyMarker: onPrefix ? prefixEnd(keyMarker) : keyMarker, ...(versionIdMarker === '' ? {} : { versionIdMarker }) }
  if (maxKeys > 0) {
    pages: for (;;) {
      const page = await list(ctx.bucket, { prefix, ...cursor, limit: Math.min(MAX_KEYS, maxKeys - entries.length + 1), signal: ctx.signal })
      for (const v of page.versions) {
        if (entries.length === maxKeys) { isTruncated = true; break pages }
        const at = delimiter === '' ? -1 : v.key.indexOf(delimiter, prefix.length)
        if (at >= 0) {
          const common = v.key.slice(0, at + delimiter.length)
          entries.push({ kind: 'prefix', prefix: common })
          cursor = { keyMarker: prefixEnd(common) }
          continue pages
        }
        entries.push({ kind: 'version', version: v })
        cursor = { keyMarker: v.key, versionIdMarker: v.versionId }
      }
      // A page cut short with nothing in it and nowhere to go on from would be asked for again and again.
      if (!page.isTruncated || page.versions.length === 0) break
    }
  }
  const last = entries.at(-1)
  const next = !isTruncated || last === undefined
    ? {}
    : last.kind === 'prefix' ? { NextKeyMarker: encode(last.prefix) } : { NextKeyMarker: encode(last.version.key), NextVersionIdMarker: last.version.versionId }
  const body: XmlElement = {
    Name: ctx.bucket,
    Prefix: encode(prefix),
    KeyMarker: encode(keyMarker),
    VersionIdMarker: versionIdMarker,
    ...next,
    MaxKeys: maxKeys,
    ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
    IsTruncated: isTruncated,
    ...(ctx.query.has('encoding-type') ? { EncodingType: 'url' } : {}),
  }
  // Versions and markers interleaved in their listing order, as S3 lists them; then the common prefixes.
  const sequence: Array<readonly [string, XmlElement]> = []
  const prefixes: Array<readonly [string, XmlElement]> = []
  for (const e of entries) {
    if (e.kind === 'prefix') { prefixes.push(['CommonPrefixes', { Prefix: encode(e.prefix) }]); continue }
    const v = e.version
    const common = { Key: encode(v.key), VersionId: v.versionId, IsLatest: v.isLatest, LastModified: madeAt(v.lastModified) }
    sequence.push(v.deleteMarker ? ['DeleteMarker', { Owner: OWNER, ...common }] : ['Version', { ...common, ETag: quoteEtag(v.etag!), Size: v.size!, Owner: OWNER, StorageClass: 'STANDARD' }])
  }
  return xmlResponseInOrder('ListVersionsResult', body, [...sequence, ...prefixes])
}
