/**
 * S3 versioning across a mesh of real `s3mesh server` processes (three
 * members, two replicas), through the AWS SDK v3 with retries off: versions
 * written on different members are listed and read by id on every member, a
 * delete marker and the promotion of the version before it are seen
 * everywhere, a suspended overwrite leaves one null version (its old copies
 * go), an old version whose holder died is copied again, and versions and
 * markers survive a crash of every member.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand, DeleteObjectCommand, GetBucketVersioningCommand, GetObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand,
  PutBucketVersioningCommand, PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import { aliveEverywhere } from '../helpers/mesh-processes.js'
import { sdkClient } from '../helpers/s3-client.js'
import { metric, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const B = 'mesh-versions'

/** What a GET of the key (or of one version) answers: its text, or the error's name and delete-marker header. */
async function read (s3: S3Client, key: string, versionId?: string): Promise<string> {
  try {
    return await (await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }))).Body!.transformToString()
  } catch (err) {
    const e = err as { name: string, $response?: { headers?: Record<string, string> } }
    return `${e.name}${e.$response?.headers?.['x-amz-delete-marker'] === 'true' ? ' (marker)' : ''}`
  }
}

/** A key's versions as a member lists them, newest first: `<id>` with `*` for the latest, `m:` before a marker's. */
async function versions (s3: S3Client, key: string): Promise<string[]> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: key }))
  const all = [...(page.Versions ?? []).map(v => ({ id: v.VersionId!, latest: v.IsLatest === true, marker: false, at: v.LastModified!.getTime(), key: v.Key })), ...(page.DeleteMarkers ?? []).map(m => ({ id: m.VersionId!, latest: m.IsLatest === true, marker: true, at: m.LastModified!.getTime(), key: m.Key }))]
  // The SDK hands versions and markers apart: back in one list, by id (ids sort as they were made), newest first; the
  // null version by its time, which is to the second (in the same second as another, the latest is the newer).
  return all.filter(v => v.key === key).sort((a, b) => a.id === 'null' || b.id === 'null' ? (b.at - a.at) || (Number(b.latest) - Number(a.latest)) : a.id < b.id ? 1 : -1).map(v => `${v.marker ? 'm:' : ''}${v.id}${v.latest ? '*' : ''}`)
}

/** Every file under a member's data folder (bucket folder and kept versions) that holds exactly `text`. */
async function filesWith (node: ServerProcess, text: string): Promise<string[]> {
  const found: string[] = []
  for (const dir of [join(node.dataDir, B), join(node.dataDir, '.s3mesh', 'versions', B)]) {
    for (const name of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
      const body = await readFile(join(dir, name), 'utf8').catch(() => undefined)
      if (body === text) found.push(join(dir, name))
    }
  }
  return found
}

describe('S3 versioning across a mesh of three processes', () => {
  let nodes: ServerProcess[] = []
  let s3: S3Client[] = []
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--membership', 'local', '--replicas', '2']
  before(async () => {
    nodes.push(await startServerProcess({ env, args }))
    for (let i = 1; i < 3; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    await aliveEverywhere(nodes, 25_000)
    s3 = nodes.map(n => sdkClient(n.url))
    await s3[0]!.send(new CreateBucketCommand({ Bucket: B }))
    await s3[0]!.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    for (const c of s3) await until('every member hears versioning is on', async () => (await c.send(new GetBucketVersioningCommand({ Bucket: B }))).Status === 'Enabled')
  })
  after(async () => {
    for (const c of s3) c.destroy()
    for (const n of nodes) await n.stop().catch(() => {})
  })

  it('lists and reads by id on every member versions written on different ones; a marker and the promotion that follows its removal are seen everywhere', async () => {
    const v1 = (await s3[0]!.send(new PutObjectCommand({ Bucket: B, Key: 'doc', Body: 'one' }))).VersionId!
    const v2 = (await s3[1]!.send(new PutObjectCommand({ Bucket: B, Key: 'doc', Body: 'two!' }))).VersionId!
    assert.ok(v1 !== v2 && v1 !== 'null' && v2 !== 'null', `${v1} ${v2}`)
    for (const [i, c] of s3.entries()) {
      assert.deepEqual(await versions(c, 'doc'), [`${v2}*`, v1], `listed on member ${i}`)
      assert.deepEqual([await read(c, 'doc'), await read(c, 'doc', v1), await read(c, 'doc', v2)], ['two!', 'one', 'two!'], `read on member ${i}`)
    }
    const marker = await s3[2]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'doc' }))
    assert.equal(marker.DeleteMarker, true)
    for (const [i, c] of s3.entries()) {
      assert.equal(await read(c, 'doc'), 'NoSuchKey (marker)', `member ${i}`)
      assert.equal(await read(c, 'doc', v1), 'one', `member ${i}: the versions stay`)
      assert.equal((await c.send(new ListObjectsV2Command({ Bucket: B }))).KeyCount, 0, `member ${i} lists no key behind a marker`)
      assert.deepEqual(await versions(c, 'doc'), [`m:${marker.VersionId!}*`, v2, v1])
    }
    // Removing the marker, then the newest version, makes the one before current on every member: nothing moves.
    await s3[0]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'doc', VersionId: marker.VersionId }))
    for (const c of s3) assert.equal(await read(c, 'doc'), 'two!')
    await s3[1]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'doc', VersionId: v2 }))
    for (const [i, c] of s3.entries()) {
      assert.equal(await read(c, 'doc'), 'one', `member ${i}: the version before is current`)
      assert.equal(await read(c, 'doc', v2), 'NoSuchVersion', `member ${i}`)
    }
    // The removed version's copies go from every folder.
    for (const n of nodes) await until(`${n.url} keeps no copy of the removed version`, async () => (await filesWith(n, 'two!')).length === 0)
    const holders = (await Promise.all(nodes.map(async n => (await filesWith(n, 'one')).length))).reduce((a, b) => a + b, 0)
    // Its writer's and placement's (a member placement gives it fetches it on a read: surplus copies stay, as for any object).
    assert.ok(holders >= 2, `the version left has its copies (${holders})`)
  })

  it('suspended: an overwrite on another member leaves one null version, and the old null copies go', async () => {
    const v = (await s3[0]!.send(new PutObjectCommand({ Bucket: B, Key: 'sus', Body: 'kept version' }))).VersionId!
    await s3[1]!.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Suspended' } }))
    for (const c of s3) await until('every member hears versioning is suspended', async () => (await c.send(new GetBucketVersioningCommand({ Bucket: B }))).Status === 'Suspended')
    assert.equal((await s3[0]!.send(new PutObjectCommand({ Bucket: B, Key: 'sus', Body: 'null one' }))).VersionId, 'null')
    assert.equal((await s3[2]!.send(new PutObjectCommand({ Bucket: B, Key: 'sus', Body: 'null two' }))).VersionId, 'null')
    for (const [i, c] of s3.entries()) {
      assert.deepEqual(await versions(c, 'sus'), ['null*', v], `member ${i}`)
      assert.deepEqual([await read(c, 'sus'), await read(c, 'sus', 'null'), await read(c, 'sus', v)], ['null two', 'null two', 'kept version'])
    }
    for (const n of nodes) await until(`${n.url} keeps no copy of the replaced null version`, async () => (await filesWith(n, 'null one')).length === 0)
    // A delete while suspended: the null version becomes a marker; the other version stays.
    const gone = await s3[1]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'sus' }))
    assert.deepEqual([gone.DeleteMarker, gone.VersionId], [true, 'null'])
    for (const c of s3) assert.deepEqual(await versions(c, 'sus'), ['m:null*', v])
    for (const n of nodes) await until(`${n.url} keeps no copy of the null version a marker replaced`, async () => (await filesWith(n, 'null two')).length === 0)
    await s3[1]!.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    for (const c of s3) await until('every member hears versioning is on again', async () => (await c.send(new GetBucketVersioningCommand({ Bucket: B }))).Status === 'Enabled')
  })

  it('copies an old version again when a holder dies, and keeps versions and markers through a crash of every member', async () => {
    // A key whose old version has exactly two copies (placement's two members, the writer among them), so that one
    // member lacks it: a holder other than the writer dies, and the member left without a copy fetches one.
    let key = ''
    let old = ''
    let now = ''
    let holders: ServerProcess[] = []
    for (let i = 0; i < 12 && holders.length !== 2; i++) {
      key = `repair-${i}`
      old = (await s3[0]!.send(new PutObjectCommand({ Bucket: B, Key: key, Body: `old bytes ${i}` }))).VersionId!
      now = (await s3[0]!.send(new PutObjectCommand({ Bucket: B, Key: key, Body: `new bytes ${i}` }))).VersionId!
      holders = []
      for (const n of nodes) if ((await filesWith(n, `old bytes ${i}`)).length > 0) holders.push(n)
    }
    assert.equal(holders.length, 2, 'a key with two copies of its old version')
    const oldText = `old bytes ${key.slice('repair-'.length)}`
    const newText = `new bytes ${key.slice('repair-'.length)}`
    const marked = await s3[0]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'marked' }))
    const victim = holders.find(n => n !== nodes[0])!
    await victim.stop({ remove: false, signal: 'SIGKILL' })
    const left = nodes.filter(n => n !== victim)
    const lacking: ServerProcess[] = []
    for (const n of left) if ((await filesWith(n, oldText)).length === 0) lacking.push(n)
    assert.equal(lacking.length, 1, 'a member left without a copy of the old version (the failure repair heals)')
    await until(`${lacking[0]!.url} holds the old version again`, async () => (await filesWith(lacking[0]!, oldText)).length === 1, 30_000)
    for (const n of left) await until(`${n.url} counts nothing under-replicated`, async () => await metric(n, 's3mesh_under_replicated_objects') === 0, 30_000)

    // Every member crashes; they come back from their folders and catalogs.
    for (const n of left) await n.stop({ remove: false, signal: 'SIGKILL' })
    const first = await startServerProcess({ dataDir: nodes[0]!.dataDir, env, args })
    const rest: ServerProcess[] = []
    for (const n of nodes.slice(1)) rest.push(await startServerProcess({ dataDir: n.dataDir, env, args: [...args, '--join', first.meshAddress!] }))
    nodes = [first, ...rest]
    for (const c of s3) c.destroy()
    s3 = nodes.map(n => sdkClient(n.url))
    await aliveEverywhere(nodes)
    // What a member had only heard of (the marker's writer alone saved it before answering) comes back from the
    // others by anti-entropy: every member agrees again, nothing lost.
    const seen = async (c: S3Client): Promise<string> => JSON.stringify([
      await versions(c, key), await read(c, key), await read(c, key, old), await read(c, 'marked'), await versions(c, 'marked'), await read(c, 'doc'),
    ])
    const want = JSON.stringify([[`${now}*`, old], newText, oldText, 'NoSuchKey (marker)', [`m:${marked.VersionId!}*`], 'one'])
    for (const [i, c] of s3.entries()) await until(`member ${i} has every version and marker back`, async () => await seen(c) === want, 20_000, async () => await seen(c))
  })
})
