/** The object mesh across real `s3mesh server` processes: any node answers for the cluster, writes are replicated, deletes spread. */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetBucketCorsCommand, GetObjectCommand, PutBucketCorsCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3'
import { TREE_CHUNK_BYTES } from '../../src/core/mesh/chunk-tree.js'
import { Placement } from '../../src/core/mesh/placement.js'
import { AWS_UNSET, awsCliEnv, makeFixtures, run } from '../helpers/cli-clients.js'
import { ACCESS_KEY, metric, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { sdkClient, signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

// Debian's aws-cli v2; a pyenv aws-cli v1 may come first on PATH, so the path is explicit.
const AWS = '/usr/bin/aws'

const CLUSTER_KEY = randomBytes(32).toString('base64')
const sign = signer()

function client (node: ServerProcess): S3Client {
  return sdkClient(node.url)
}

interface Located { holders: Array<{ id: string, state: string }>, placement: string[], sha256?: string, deleted: boolean }

async function locate (node: ServerProcess, bucket: string, key: string): Promise<Located | undefined> {
  const res = await sign.fetch(`${node.url}/_s3mesh/v1/locate/${bucket}/${encodeURIComponent(key)}`)
  if (res.status === 404) return undefined
  assert.equal(res.status, 200, await res.clone().text())
  return await res.json() as Located
}

describe('object mesh across three real processes', () => {
  const nodes: ServerProcess[] = []
  before(async () => {
    const env = { S3MESH_CLUSTER_KEY: CLUSTER_KEY }
    const args = ['--membership', 'local', '--replicas', '2']
    nodes.push(await startServerProcess({ env, args }))
    for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    await until('three members alive everywhere', async () => {
      for (const n of nodes) {
        const res = await sign.fetch(`${n.url}/_s3mesh/v1/members`)
        const { members } = await res.json() as { members: Array<{ state: string }> }
        if (members.filter(m => m.state === 'alive').length !== 3) return false
      }
      return true
    }, 20_000)
  })
  after(async () => { for (const n of nodes) await n.stop().catch(() => {}) })

  it('a bucket made on node 1 is listed on node 3; an object PUT on node 2 is read, listed and HEADed on every node', async () => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    await client(n1).send(new CreateBucketCommand({ Bucket: 'shared' }))
    await until('node 3 lists the bucket', async () => ((await client(n3).send(new ListBucketsCommand({}))).Buckets ?? []).some(b => b.Name === 'shared'))

    const body = randomBytes(300 * 1024)
    const sent = performance.now()
    const put = await sign.fetch(`${n2.url}/shared/dir/photo.bin`, { method: 'PUT', body, headers: { 'content-type': 'image/x-test', 'x-amz-meta-owner': 'ann' } })
    const took = performance.now() - sent
    assert.equal(put.status, 200)
    assert.equal(put.headers.get('x-s3mesh-replicas'), '2', 'acknowledged with two copies')
    // Where its time went: each part of the write, in order, within the time the client waited.
    const parts = [...(put.headers.get('server-timing') ?? '').matchAll(/(\w+);dur=([\d.]+)/g)].map(m => [m[1]!, Number(m[2])] as const)
    assert.deepEqual(parts.map(([name]) => name), ['write', 'copies', 'announce'], `Server-Timing: ${put.headers.get('server-timing')}`)
    const ms = Object.fromEntries(parts)
    assert.ok(ms.write! > 0 && ms.copies! > 0, 'the local copy took time, and the replica\'s commit came after it')
    assert.ok(ms.write! + ms.copies! + ms.announce! < took, 'the parts fit in the time the client waited')
    const etag = put.headers.get('etag')
    for (const n of nodes) {
      await until(`node ${n.port} lists the object`, async () => ((await client(n).send(new ListObjectsV2Command({ Bucket: 'shared', Prefix: 'dir/' }))).Contents ?? []).some(o => o.Key === 'dir/photo.bin'))
      const got = await client(n).send(new GetObjectCommand({ Bucket: 'shared', Key: 'dir/photo.bin' }))
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body), `the bytes read on ${n.url}`)
      assert.equal(got.ETag, etag)
      assert.equal(got.ContentType, 'image/x-test')
      assert.equal(got.Metadata?.owner, 'ann')
      const range = await client(n).send(new GetObjectCommand({ Bucket: 'shared', Key: 'dir/photo.bin', Range: 'bytes=1000-1999' }))
      assert.ok(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(1000, 2000)))
      const head = await client(n).send(new HeadObjectCommand({ Bucket: 'shared', Key: 'dir/photo.bin' }))
      assert.equal(head.ContentLength, body.length)
    }
    const where = await locate(n1, 'shared', 'dir/photo.bin')
    assert.equal(where?.sha256, createHash('sha256').update(body).digest('hex'))
    assert.equal(where?.placement.length, 2)
    assert.ok(where!.holders.length >= 2, 'at least the two replicas hold it')
    for (const p of where!.placement) assert.ok(where!.holders.some(h => h.id === p), 'every placement member holds it')
  })

  it('real clients across nodes: aws-cli PUTs (50 MiB multipart) to node 1, boto3 GETs from node 3, the SDK lists from node 2', async (t) => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    if (!existsSync(AWS) || !existsSync('/usr/bin/python3')) {
      if (process.env.CI === 'true') throw new Error('aws-cli and python3-boto3 are needed: apt-get install awscli python3-boto3')
      t.skip('aws-cli or python3 missing')
      return
    }
    const fx = await makeFixtures()
    try {
      const env = await awsCliEnv(fx.dir)
      const aws = async (...args: string[]): Promise<string> => (await run(AWS, ['--endpoint-url', n1.url, ...args], env, { unset: AWS_UNSET })).stdout
      await aws('s3', 'mb', 's3://clients')
      await aws('s3', 'cp', '--no-progress', fx.small, 's3://clients/docs/small.txt')
      await aws('s3', 'cp', '--no-progress', fx.big, 's3://clients/big/fifty.bin')
      const script = `
import boto3, hashlib, sys
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
body = s3.get_object(Bucket="clients", Key="big/fifty.bin")["Body"].read()
print(hashlib.sha256(body).hexdigest(), s3.head_object(Bucket="clients", Key="big/fifty.bin")["ETag"])
`
      const [sha, etag] = (await run('/usr/bin/python3', ['-c', script, n3.url, ACCESS_KEY, SECRET_KEY])).stdout.trim().split(' ')
      assert.equal(sha, fx.bigSha256, 'boto3 on node 3 reads the bytes aws-cli wrote to node 1')
      assert.match(etag!, /-\d+"$/, 'with the multipart ETag')
      const listed = await client(n2).send(new ListObjectsV2Command({ Bucket: 'clients' }))
      assert.deepEqual((listed.Contents ?? []).map(o => [o.Key, o.Size]), [['big/fifty.bin', 50 * 1024 * 1024], ['docs/small.txt', fx.smallText.length]])
    } finally {
      await fx.cleanup()
    }
  })

  it('a DELETE on one node removes the object everywhere, files included', async () => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    await client(n1).send(new PutObjectCommand({ Bucket: 'shared', Key: 'gone.txt', Body: 'bye' }))
    await until('node 3 reads it', async () => (await client(n3).send(new HeadObjectCommand({ Bucket: 'shared', Key: 'gone.txt' }))).ContentLength === 3)
    await client(n2).send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'gone.txt' }))
    for (const n of nodes) {
      await until(`node ${n.port} no longer lists it`, async () => !((await client(n).send(new ListObjectsV2Command({ Bucket: 'shared' }))).Contents ?? []).some(o => o.Key === 'gone.txt'))
      await assert.rejects(client(n).send(new GetObjectCommand({ Bucket: 'shared', Key: 'gone.txt' })), (err: Error) => err.name === 'NoSuchKey')
    }
    await until('no node keeps the file', async () => nodes.every(n => !existsSync(`${n.dataDir}/shared/gone.txt`)))
  })

  it('a copy that rots on disk is never served: a GET elsewhere fails rather than return it, and the copy is repaired', async () => {
    const ids = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: boolean }> }).members.find(m => m.self === true)!.id))
    const body = randomBytes(200 * 1024)
    const sha = createHash('sha256').update(body).digest('hex')
    // A key whose placement includes the writer: its two copies are then exactly the placement, and the third node never holds one.
    let key = ''
    for (let i = 0; !new Placement(ids).replicas('shared', key, 2).includes(ids[0]!) || key === ''; i++) key = `fragile-${i}.bin`
    assert.equal((await sign.fetch(`${nodes[0]!.url}/shared/${key}`, { method: 'PUT', body })).headers.get('x-s3mesh-replicas'), '2')
    const holders = (await locate(nodes[0]!, 'shared', key))!.holders.map(h => h.id)
    assert.deepEqual(holders.sort(), new Placement(ids).replicas('shared', key, 2).sort())
    const rotten = nodes[ids.indexOf(holders[0]!)]!
    const healthy = nodes[ids.indexOf(holders[1]!)]!
    const reader = nodes.find(n => n !== rotten && n !== healthy)!
    await until('the reader knows of the object', async () => (await sign.fetch(`${reader.url}/shared/${key}`, { method: 'HEAD' })).status === 200)
    // Bit rot: one byte flipped, size and mtime kept, so nothing on disk looks edited.
    const file = join(rotten.dataDir, 'shared', key)
    const { mtimeNs } = await stat(file, { bigint: true })
    const bad = Buffer.from(await readFile(file))
    bad[1000] = bad[1000]! ^ 0xff
    await writeFile(file, bad)
    // touch takes nanoseconds, so the store's stat check (inode, size, mtime) sees the same file.
    await run('touch', ['-m', '-d', `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, '0')}`, file])

    const healthyIndex = nodes.indexOf(healthy)
    await healthy.stop({ remove: false, signal: 'SIGKILL' })
    const res = await sign.fetch(`${reader.url}/shared/${key}`)
    assert.equal(res.status, 503, `with only the rotten copy reachable, the GET fails (got ${res.status} ${res.status === 200 ? createHash('sha256').update(Buffer.from(await res.clone().arrayBuffer())).digest('hex') === sha : await res.clone().text()})`)
    assert.match(await res.text(), /ServiceUnavailable/)
    await until('the rotten holder noticed', async () => await metric(rotten, 's3mesh_corrupt_copies_total') >= 1)

    nodes[healthyIndex] = await startServerProcess({ dataDir: healthy.dataDir, env: { S3MESH_CLUSTER_KEY: CLUSTER_KEY }, args: ['--membership', 'local', '--replicas', '2', '--join', rotten.meshAddress!] })
    await until('the rotten copy is replaced by good bytes', async () => createHash('sha256').update(await readFile(file)).digest('hex') === sha, 30_000)
    const again = await sign.fetch(`${reader.url}/shared/${key}`)
    assert.equal(again.status, 200)
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(body))
  })

  it('a large object read through a member placement gives no copy streams from a holder: a range first, then whole, the same bytes, and no copy is kept there', async () => {
    const ids = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: boolean }> }).members.find(m => m.self === true)!.id))
    const body = randomBytes(3 * 1024 * 1024 + 17)
    // Its two copies on nodes 1 and 2 (placement includes the writer); node 3 holds none.
    let key = ''
    for (let i = 0; key === '' || new Placement(ids).replicas('shared', key, 2).includes(ids[2]!); i++) key = `streamed-${i}.bin`
    assert.equal((await sign.fetch(`${nodes[0]!.url}/shared/${key}`, { method: 'PUT', body })).headers.get('x-s3mesh-replicas'), '2')
    const reader = nodes[2]!
    const file = join(reader.dataDir, 'shared', key)
    await until('node 3 knows of the object', async () => (await sign.fetch(`${reader.url}/shared/${key}`, { method: 'HEAD' })).status === 200)
    assert.equal(existsSync(file), false, 'node 3 holds no copy before the read')
    const ranged = await sign.fetch(`${reader.url}/shared/${key}`, { headers: { range: 'bytes=1000000-2000000' } })
    assert.equal(ranged.status, 206)
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(1000000, 2000001)), 'the range, as stored')
    const whole = await sign.fetch(`${reader.url}/shared/${key}`)
    assert.equal(whole.status, 200)
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(body))
    // Not one of its two replicas: node 3 read it through, and neither stored it nor claims it.
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(existsSync(file), false, 'node 3 keeps no copy')
    const located = (await locate(nodes[0]!, 'shared', key))!.holders.map(h => h.id).sort()
    assert.deepEqual(located, [ids[0]!, ids[1]!].sort(), 'the holders are still the two replicas')
  })

  it('a range of a large object read through a member placement gives no copy brings only the chunks that hold it, checked by the tree its writer made, a multipart upload\'s too', async () => {
    const ids = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: boolean }> }).members.find(m => m.self === true)!.id))
    const C = 1024 * 1024
    const notOnNode3 = (prefix: string): string => {
      let key = ''
      for (let i = 0; key === '' || new Placement(ids).replicas('shared', key, 2).includes(ids[2]!); i++) key = `${prefix}-${i}.bin`
      return key
    }
    const reader = nodes[2]!
    const received = async (): Promise<number> => await metric(reader, 's3mesh_transfer_received_bytes_total')
    /** The bytes of the tree's chunks holding start..end of an object of `size` bytes. */
    const chunksOf = (start: number, end: number, size: number): number => Math.min((Math.floor(end / TREE_CHUNK_BYTES) + 1) * TREE_CHUNK_BYTES, size) - Math.floor(start / TREE_CHUNK_BYTES) * TREE_CHUNK_BYTES
    const rangeThrough = async (key: string, range: string, expected: Buffer, carried: number): Promise<void> => {
      assert.ok(carried < 4 * C, 'a range smaller than its object')
      const before = await received()
      const res = await sign.fetch(`${reader.url}/shared/${key}`, { headers: { range } })
      assert.equal(res.status, 206, await res.clone().text())
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(expected), `${key} ${range}: the bytes as stored`)
      assert.equal(await received() - before, carried, `${key} ${range}: node 3 received only the chunks holding the range`)
    }

    // One PUT of 8 MiB and 5 bytes: chunks 0-7 whole, chunk 8 of 5 bytes.
    const body = randomBytes(8 * C + 5)
    const single = notOnNode3('ranged')
    assert.equal((await sign.fetch(`${nodes[0]!.url}/shared/${single}`, { method: 'PUT', body })).headers.get('x-s3mesh-replicas'), '2')
    await until('node 3 knows of it', async () => (await sign.fetch(`${reader.url}/shared/${single}`, { method: 'HEAD' })).status === 200)
    assert.ok(Number.isFinite(await received()), 'node 3 reports what it receives')
    const size = body.byteLength
    await rangeThrough(single, 'bytes=5000000-5000999', body.subarray(5000000, 5001000), chunksOf(5000000, 5000999, size))
    await rangeThrough(single, 'bytes=-100', body.subarray(size - 100), chunksOf(size - 100, size - 1, size))
    await rangeThrough(single, `bytes=${C - 1}-${3 * C}`, body.subarray(C - 1, 3 * C + 1), chunksOf(C - 1, 3 * C, size))

    // A multipart upload (parts of 5 MiB and 2 MiB) gets its tree when it is completed.
    const multi = notOnNode3('ranged-multipart')
    const s3 = client(nodes[0]!)
    const parts = [randomBytes(5 * C), randomBytes(2 * C)]
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: multi }))
    const etags = []
    for (const [i, p] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: 'shared', Key: multi, UploadId, PartNumber: i + 1, Body: p }))).ETag!)
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'shared', Key: multi, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }))
    await until('node 3 knows of the multipart object', async () => (await sign.fetch(`${reader.url}/shared/${multi}`, { method: 'HEAD' })).status === 200)
    const whole = Buffer.concat(parts)
    await rangeThrough(multi, `bytes=${6 * C + 10}-${6 * C + 20}`, whole.subarray(6 * C + 10, 6 * C + 21), chunksOf(6 * C + 10, 6 * C + 20, whole.byteLength))

    assert.equal(existsSync(join(reader.dataDir, 'shared', single)), false, 'node 3 keeps no copy')
    assert.equal(existsSync(join(reader.dataDir, 'shared', multi)), false, 'node 3 keeps no copy')
  })

  it('a small object read through a member placement gives no copy is checked whole before the answer, and not kept there', async () => {
    const ids = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: boolean }> }).members.find(m => m.self === true)!.id))
    const body = randomBytes(64 * 1024)
    let key = ''
    for (let i = 0; key === '' || new Placement(ids).replicas('shared', key, 2).includes(ids[2]!); i++) key = `small-through-${i}.bin`
    assert.equal((await sign.fetch(`${nodes[0]!.url}/shared/${key}`, { method: 'PUT', body })).status, 200)
    const reader = nodes[2]!
    await until('node 3 knows of the object', async () => (await sign.fetch(`${reader.url}/shared/${key}`, { method: 'HEAD' })).status === 200)
    for (let i = 0; i < 3; i++) {
      const res = await sign.fetch(`${reader.url}/shared/${key}`)
      assert.equal(res.status, 200)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(body), `read ${i + 1}: the bytes as written`)
    }
    assert.equal(existsSync(join(reader.dataDir, 'shared', key)), false, 'node 3 keeps no copy, however often it is read')
  })

  it('a blocking locate on node 3 answers when a PUT on node 1 reaches it, and after its wait when nothing comes', async () => {
    const [n1, , n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    assert.equal((await sign.fetch(`${n1.url}/awaiting`, { method: 'PUT' })).status, 200)
    await until('node 3 knows the bucket', async () => (await sign.fetch(`${n3.url}/_s3mesh/v1/locate/awaiting`)).status === 200)
    let answered = 0
    const waiting = sign.fetch(`${n3.url}/_s3mesh/v1/locate/awaiting/awaited.txt?wait=20000`).then(async res => { answered = Date.now(); return res })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(answered, 0, 'still waiting before the write')
    assert.equal((await sign.fetch(`${n1.url}/awaiting/awaited.txt`, { method: 'PUT', body: 'worth the wait' })).status, 200)
    const res = await waiting
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as Located).sha256, createHash('sha256').update('worth the wait').digest('hex'))
    const t = Date.now()
    assert.equal((await sign.fetch(`${n3.url}/_s3mesh/v1/locate/awaiting/never.txt?wait=500`)).status, 404)
    assert.ok(Date.now() - t >= 450, 'it waited')
  })

  it('CORS rules set on node 1 answer preflights on node 3', async () => {
    const [n1, , n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    await client(n1).send(new CreateBucketCommand({ Bucket: 'webapp' }))
    const preflight = async (): Promise<Response> => await fetch(`${n3.url}/webapp/app.js`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } })
    await until('node 3 knows the bucket', async () => (await preflight()).status === 403)
    await client(n1).send(new PutBucketCorsCommand({ Bucket: 'webapp', CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://app.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], MaxAgeSeconds: 600 }] } }))
    await until('node 3 allows the preflight', async () => (await preflight()).status === 200)
    const ok = await preflight()
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example')
    const rules = await client(n3).send(new GetBucketCorsCommand({ Bucket: 'webapp' }))
    assert.deepEqual(rules.CORSRules?.[0]?.AllowedMethods, ['GET', 'PUT'])
    assert.equal((await fetch(`${n3.url}/webapp/app.js`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' } })).status, 403, 'other origins still refused')
  })

  it('a bucket deleted on one node is gone everywhere, its folder too', async () => {
    const [n1, n2] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    assert.equal((await sign.fetch(`${n1.url}/shortlived`, { method: 'PUT' })).status, 200)
    assert.ok(existsSync(join(n1.dataDir, 'shortlived')), 'node 1 made its folder (the others make theirs when they first store into it)')
    await until('every node knows it', async () => (await Promise.all(nodes.map(async n => (await sign.fetch(`${n.url}/shortlived`, { method: 'HEAD' })).status))).every(s => s === 200))
    assert.equal((await sign.fetch(`${n2.url}/shortlived`, { method: 'DELETE' })).status, 204)
    await until('no node lists it', async () => (await Promise.all(nodes.map(async n => (await sign.fetch(`${n.url}/shortlived`, { method: 'HEAD' })).status))).every(s => s === 404))
    await until('no node keeps its folder', async () => nodes.every(n => !existsSync(join(n.dataDir, 'shortlived'))))
  })

  it('a bucket with a multipart upload in progress on one node is not deleted through another (BucketNotEmpty, as on a lone node), and is once the upload is aborted', async () => {
    const [n1, n2] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    assert.equal((await sign.fetch(`${n1.url}/staged`, { method: 'PUT' })).status, 200)
    await until('every node knows it', async () => (await Promise.all(nodes.map(async n => (await sign.fetch(`${n.url}/staged`, { method: 'HEAD' })).status))).every(s => s === 200))
    const created = await (await sign.fetch(`${n1.url}/staged/big.bin?uploads`, { method: 'POST' })).text()
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)![1]!
    assert.equal((await sign.fetch(`${n1.url}/staged/big.bin?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', body: 'a part' })).status, 200)
    const refused = await sign.fetch(`${n2.url}/staged`, { method: 'DELETE' })
    assert.equal(refused.status, 409)
    assert.match(await refused.text(), /<Code>BucketNotEmpty<\/Code>/)
    assert.equal((await sign.fetch(`${n1.url}/staged?uploads`)).status, 200, 'the bucket and its upload are still there')
    assert.match(await (await sign.fetch(`${n1.url}/staged/big.bin?uploadId=${uploadId}`)).text(), /<PartNumber>1<\/PartNumber>/)
    assert.equal((await sign.fetch(`${n1.url}/staged/big.bin?uploadId=${uploadId}`, { method: 'DELETE' })).status, 204)
    assert.equal((await sign.fetch(`${n2.url}/staged`, { method: 'DELETE' })).status, 204)
  })

  it('concurrent PUTs of one key on two nodes settle on the same version everywhere', async () => {
    const [n1, n2] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    await Promise.all([
      client(n1).send(new PutObjectCommand({ Bucket: 'shared', Key: 'race', Body: 'from node 1' })),
      client(n2).send(new PutObjectCommand({ Bucket: 'shared', Key: 'race', Body: 'from node 2' })),
    ])
    await until('every node reports the same content', async () => {
      const shas = await Promise.all(nodes.map(async n => (await locate(n, 'shared', 'race'))?.sha256))
      return shas[0] !== undefined && shas.every(s => s === shas[0])
    })
    const bodies = await Promise.all(nodes.map(async n => await (await client(n).send(new GetObjectCommand({ Bucket: 'shared', Key: 'race' }))).Body!.transformToString()))
    assert.ok(bodies.every(b => b === bodies[0]), `every node serves the same winner: ${bodies.join(' / ')}`)
    await until('no object is under-replicated', async () => (await Promise.all(nodes.map(async n => await metric(n, 's3mesh_under_replicated_objects')))).every(v => v === 0))
  })
  it('pushes after the first to a replica go out on the stream kept from the push before, and streams left idle are dropped without a refusal', async () => {
    const [n1] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    const refusedBefore = await Promise.all(nodes.map(async n => await metric(n, 's3mesh_transfer_refused_total')))
    const keptBefore = await metric(n1, 's3mesh_transfer_pushed_on_kept_total')
    for (let i = 0; i < 8; i++) assert.equal((await sign.fetch(`${n1.url}/shared/spare-${i}`, { method: 'PUT', body: randomBytes(4096) })).status, 200)
    // Eight writes, each to one replica or two: at most the first to each peer needs a stream of its own.
    assert.ok(await metric(n1, 's3mesh_transfer_pushed_on_kept_total') - keptBefore >= 6, 'pushes went out on kept streams')
    // The streams kept (and the spares opened ahead) are dropped by the writer after half the idle timeout, or by the serving side after it (10 s): quietly.
    await new Promise(resolve => setTimeout(resolve, 11_000))
    const refusedAfter = await Promise.all(nodes.map(async n => await metric(n, 's3mesh_transfer_refused_total')))
    assert.deepEqual(refusedAfter, refusedBefore, 'no refusal counted for a stream left idle')
    assert.equal((await sign.fetch(`${n1.url}/shared/spare-after-idle`, { method: 'PUT', body: randomBytes(4096) })).status, 200, 'a write after the kept streams expired still goes through')
  })
})
