/**
 * S3 versioning through the real `s3mesh server` process with the AWS SDK v3
 * (retries off), the same on a node started with --no-mesh (DiskStore's
 * versions) and on a mesh member (the catalog's, over the same store); a
 * data folder with versions made without the mesh keeps them as a member.
 * The same cases through an edge worker (its GatewayStore, caching) in front
 * of a mesh member. Across several members: object-mesh-versioning.test.ts;
 * through a browser tab: browser-versions.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand,
  GetObjectTaggingCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { sdkClient } from '../helpers/s3-client.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { edgeInFrontOf } from '../helpers/edge.js'

async function errorOf (p: Promise<unknown>): Promise<{ name: string, status?: number, marker?: string }> {
  try { await p } catch (err) {
    const e = err as { name: string, $metadata?: { httpStatusCode?: number }, $response?: { headers?: Record<string, string> } }
    return { name: e.name, ...(e.$metadata?.httpStatusCode === undefined ? {} : { status: e.$metadata.httpStatusCode }), ...(e.$response?.headers?.['x-amz-delete-marker'] === undefined ? {} : { marker: e.$response.headers['x-amz-delete-marker'] }) }
  }
  return { name: 'no error' }
}

const places = [['a node without the mesh', ['--no-mesh'], false], ['a mesh member', [], false], ['an edge worker in front of a mesh member', [], true]] as const
for (const [where, args, edge] of places) describe(`S3 versioning on ${where} (AWS SDK v3)`, () => {
  let server: ServerProcess
  let front: { url: string, close: () => Promise<void> } | undefined
  let url: string
  let s3: S3Client
  const B = 'versioned'
  const text = async (key: string, versionId?: string): Promise<string> => await (await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }))).Body!.transformToString()
  before(async () => {
    server = await startServerProcess({ args: [...args] })
    if (edge) front = await edgeInFrontOf(server)
    url = front?.url ?? server.url
    s3 = sdkClient(url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await front?.close(); await server?.stop() })

  it('turns versioning on and keeps every version: ids on PUT, GET by id, a delete marker, ListObjectVersions', async () => {
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: B }))).Status, undefined, 'never set')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'doc.txt', Body: 'before versioning' }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: B }))).Status, 'Enabled')
    const v1 = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'doc.txt', Body: 'first' }))
    const v2 = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'doc.txt', Body: 'second!' }))
    assert.ok(v1.VersionId !== undefined && v2.VersionId !== undefined && v1.VersionId !== v2.VersionId)
    assert.equal(await text('doc.txt'), 'second!')
    assert.equal(await text('doc.txt', v1.VersionId), 'first')
    assert.equal(await text('doc.txt', 'null'), 'before versioning', 'what was there before is the null version')
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'doc.txt', VersionId: v1.VersionId }))).VersionId, v1.VersionId)
    const del = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'doc.txt' }))
    assert.equal(del.DeleteMarker, true)
    assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'doc.txt' }))), { name: 'NotFound', status: 404, marker: 'true' })
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: B }))).KeyCount, 0, 'a key behind a marker is not listed')
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: B }))
    assert.deepEqual(listed.DeleteMarkers?.map(m => [m.Key, m.VersionId, m.IsLatest]), [['doc.txt', del.VersionId, true]])
    assert.deepEqual(listed.Versions?.map(v => [v.VersionId, v.IsLatest, v.Size]), [[v2.VersionId, false, 7], [v1.VersionId, false, 5], ['null', false, 17]])
    assert.equal((await errorOf(s3.send(new DeleteBucketCommand({ Bucket: B })))).name, 'BucketNotEmpty')
  })

  it('restores an old version by copying it over the key, and deleting the marker brings the newest back', async () => {
    const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: 'doc.txt' }))).Versions!
    const first = versions.find(v => v.Size === 5)!
    const restored = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'doc.txt', CopySource: `${B}/doc.txt?versionId=${first.VersionId}` }))
    assert.ok(restored.VersionId !== undefined && restored.VersionId !== first.VersionId, 'the copy is a new version')
    assert.equal(await text('doc.txt'), 'first')
    // Delete the restored copy and the marker by their ids: the newest version before them is current again.
    const marker = (await s3.send(new ListObjectVersionsCommand({ Bucket: B }))).DeleteMarkers![0]!
    assert.deepEqual(await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'other.txt', CopySource: `${B}/doc.txt?versionId=${marker.VersionId}` }))), { name: 'InvalidRequest', status: 400 }, 'a delete marker is no copy source')
    const gone = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'doc.txt', VersionId: restored.VersionId }, { Key: 'doc.txt', VersionId: marker.VersionId }] } }))
    assert.deepEqual(gone.Deleted?.map(d => [d.VersionId, d.DeleteMarker ?? false]).sort(), [[marker.VersionId, true], [restored.VersionId, false]].sort())
    assert.equal(await text('doc.txt'), 'second!')
    // The null version (from before versioning) is restored the same way, though it names no version id of its own.
    const fromNull = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'doc.txt', CopySource: `${B}/doc.txt?versionId=null` }))
    assert.ok(fromNull.VersionId !== undefined && fromNull.VersionId !== 'null')
    assert.equal(await text('doc.txt'), 'before versioning')
    // Tagging answers which version it read or changed.
    assert.equal((await s3.send(new PutObjectTaggingCommand({ Bucket: B, Key: 'doc.txt', Tagging: { TagSet: [{ Key: 'restored', Value: 'yes' }] } }))).VersionId, fromNull.VersionId)
    assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'doc.txt', VersionId: 'null' }))).VersionId, 'null')
    // Gone again by its id: the version before it is current once more.
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'doc.txt', VersionId: fromNull.VersionId }))
    assert.equal(await text('doc.txt'), 'second!')
  })

  it('pages versions with key and version-id markers and rolls keys up by delimiter', async () => {
    for (const key of ['a/1', 'a/2', 'b']) for (const body of ['x', 'yy']) await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }))
    const all: string[] = []
    let markers: { KeyMarker?: string, VersionIdMarker?: string } = {}
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: B, MaxKeys: 2, ...markers }))
      for (const v of [...page.Versions ?? [], ...page.DeleteMarkers ?? []]) all.push(`${v.Key}@${v.VersionId}`)
      if (page.IsTruncated !== true) break
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker }
    }
    const whole = await s3.send(new ListObjectVersionsCommand({ Bucket: B }))
    assert.equal(all.length, (whole.Versions?.length ?? 0) + (whole.DeleteMarkers?.length ?? 0))
    assert.equal(new Set(all).size, all.length, 'no version listed twice across pages')
    const rolled = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/' }))
    assert.deepEqual(rolled.CommonPrefixes?.map(p => p.Prefix), ['a/'])
    assert.deepEqual([...new Set(rolled.Versions?.map(v => v.Key))], ['b', 'doc.txt'])
    // Paged with the delimiter: a page cut on a common prefix goes on after the whole of it.
    const first = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/', MaxKeys: 1 }))
    assert.deepEqual([first.CommonPrefixes?.map(p => p.Prefix), first.IsTruncated, first.NextKeyMarker], [['a/'], true, 'a/'])
    const next = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/', MaxKeys: 1, KeyMarker: first.NextKeyMarker }))
    assert.deepEqual([next.CommonPrefixes, next.Versions?.map(v => v.Key)], [undefined, ['b']], 'after a/, b: nothing under a/ again')
    assert.equal((await errorOf(s3.send(new ListObjectVersionsCommand({ Bucket: B, VersionIdMarker: 'x' })))).name, 'InvalidArgument', 'a version-id marker needs a key marker')
  })

  it('suspended: a write replaces the null version and keeps the others; a bad configuration is MalformedXML', async () => {
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Suspended' } }))
    const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'b', Body: 'null now' }))
    assert.equal(put.VersionId, 'null')
    const b = (await s3.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: 'b' }))).Versions!
    assert.deepEqual(b.map(v => [v.VersionId === 'null', v.IsLatest, v.Size]), [[true, true, 8], [false, false, 2], [false, false, 1]])
    const bad = await fetch(`${url}/${B}?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>On</Status></VersioningConfiguration>' })
    assert.equal(bad.status, 403, 'unsigned: refused before the body is read')
    assert.equal((await errorOf(s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'On' as 'Enabled' } })))).name, 'MalformedXML')
  })

  if (edge) {
    it('revalidates what it caches by version: the same bytes written again through a node are a new version, read as such', async () => {
      await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
      const asking = await edgeInFrontOf(server, '0')
      const viaEdge = sdkClient(asking.url)
      const direct = sdkClient(server.url)
      try {
        const first = (await viaEdge.send(new PutObjectCommand({ Bucket: B, Key: 'same.txt', Body: 'same bytes' }))).VersionId
        assert.equal((await viaEdge.send(new GetObjectCommand({ Bucket: B, Key: 'same.txt' }))).VersionId, first, 'read once: cached')
        const again = (await direct.send(new PutObjectCommand({ Bucket: B, Key: 'same.txt', Body: 'same bytes' }))).VersionId
        assert.ok(again !== undefined && again !== first, 'the precondition: a second version, with the same ETag')
        assert.equal((await viaEdge.send(new GetObjectCommand({ Bucket: B, Key: 'same.txt' }))).VersionId, again, 'the node\'s 304 named another version: asked again')
        // A HEAD of a version that is not there answers NoSuchVersion (the node names its code in a header), not NoSuchKey.
        const missing = await viaEdge.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'same.txt', VersionId: '0000000000000nosuch' })).then(() => 'no error', (err: Error) => err.name)
        assert.equal(missing, 'NoSuchVersion')
      } finally { viaEdge.destroy(); direct.destroy(); await asking.close() }
    })
  }
})

describe('a data folder with versions, started as a mesh member', () => {
  it('keeps them: each version and delete marker made without the mesh is listed and read as before', async () => {
    const lone = await startServerProcess({ args: ['--no-mesh'] })
    const s3 = sdkClient(lone.url)
    await s3.send(new CreateBucketCommand({ Bucket: 'kept' }))
    await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'before' }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'kept', VersioningConfiguration: { Status: 'Enabled' } }))
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'v1' }))).VersionId!
    const v2 = (await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'v2!' }))).VersionId!
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: 'kept', Key: 'gone' }))).VersionId!
    await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'other', Body: 'x' }))
    const before = await s3.send(new ListObjectVersionsCommand({ Bucket: 'kept' }))
    s3.destroy()
    await lone.stop({ remove: false })
    const member = await startServerProcess({ dataDir: lone.dataDir })
    const back = sdkClient(member.url)
    try {
      assert.equal((await back.send(new GetBucketVersioningCommand({ Bucket: 'kept' }))).Status, 'Enabled')
      const listed = await back.send(new ListObjectVersionsCommand({ Bucket: 'kept' }))
      const shape = (l: typeof listed): unknown => [l.Versions?.map(v => [v.Key, v.VersionId, v.IsLatest, v.Size]), l.DeleteMarkers?.map(m => [m.Key, m.VersionId, m.IsLatest])]
      assert.deepEqual(shape(listed), shape(before))
      assert.deepEqual(listed.Versions?.filter(v => v.Key === 'k').map(v => v.VersionId), [v2, v1, 'null'])
      assert.deepEqual(listed.DeleteMarkers?.map(m => m.VersionId), [marker])
      const text = async (key: string, versionId?: string): Promise<string> => await (await back.send(new GetObjectCommand({ Bucket: 'kept', Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }))).Body!.transformToString()
      assert.deepEqual([await text('k'), await text('k', v1), await text('k', 'null')], ['v2!', 'v1', 'before'])
      assert.deepEqual(await errorOf(back.send(new HeadObjectCommand({ Bucket: 'kept', Key: 'gone' }))), { name: 'NotFound', status: 404, marker: 'true' })
      // Kept as the mesh's from now on: a new version, and the old ones by id.
      const v3 = (await back.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'v3 in the mesh' }))).VersionId!
      await back.send(new DeleteObjectCommand({ Bucket: 'kept', Key: 'k', VersionId: v2 }))
      assert.deepEqual((await back.send(new ListObjectVersionsCommand({ Bucket: 'kept', Prefix: 'k' }))).Versions?.map(v => v.VersionId), [v3, v1, 'null'])
      assert.equal(await text('k'), 'v3 in the mesh')
    } finally { back.destroy(); await member.stop() }
  })
})

describe('ListObjectVersions of a bucket never versioned, on a mesh member', () => {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: 'meshed' }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('lists each object as its null version, pages by key and version-id markers, and reads and tags the null version as the object', async () => {
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'meshed' }))).Status, undefined)
    for (const key of ['a', 'b', 'c']) await s3.send(new PutObjectCommand({ Bucket: 'meshed', Key: key, Body: 'v' }))
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: 'meshed', MaxKeys: 2 }))
    assert.deepEqual(page.Versions?.map(v => [v.Key, v.VersionId, v.IsLatest, v.Size]), [['a', 'null', true, 1], ['b', 'null', true, 1]])
    assert.deepEqual([page.IsTruncated, page.NextKeyMarker, page.NextVersionIdMarker], [true, 'b', 'null'])
    const rest = await s3.send(new ListObjectVersionsCommand({ Bucket: 'meshed', KeyMarker: 'b', VersionIdMarker: 'null' }))
    assert.deepEqual(rest.Versions?.map(v => v.Key), ['c'])
    assert.equal((await errorOf(s3.send(new GetObjectCommand({ Bucket: 'meshed', Key: 'a', VersionId: 'x' })))).name, 'NoSuchVersion')
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'meshed', Key: 'a', VersionId: 'null', Tagging: { TagSet: [{ Key: 't', Value: '1' }] } }))
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meshed', Key: 'a' }))).TagSet, [{ Key: 't', Value: '1' }], 'the null version is the object')
  })
})
