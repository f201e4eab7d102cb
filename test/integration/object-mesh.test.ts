/** The object mesh across real `s3mesh server` processes: any node answers for the cluster, writes are replicated, deletes spread. */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { AwsClient } from 'aws4fetch'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const CLUSTER_KEY = randomBytes(32).toString('base64')
const sign = new AwsClient({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, service: 's3', region: 'us-east-1' })

function client (node: ServerProcess): S3Client {
  return new S3Client({ endpoint: node.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } })
}

async function until (what: string, check: () => Promise<boolean>, ms = 15_000): Promise<number> {
  const start = Date.now()
  while (!(await check().catch(() => false))) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return Date.now() - start
}

interface Located { holders: Array<{ id: string, state: string }>, placement: string[], sha256?: string, deleted: boolean }

async function locate (node: ServerProcess, bucket: string, key: string): Promise<Located | undefined> {
  const res = await sign.fetch(`${node.url}/_s3mesh/v1/locate/${bucket}/${encodeURIComponent(key)}`)
  if (res.status === 404) return undefined
  assert.equal(res.status, 200, await res.clone().text())
  return await res.json() as Located
}

async function metric (node: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
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
    const put = await sign.fetch(`${n2.url}/shared/dir/photo.bin`, { method: 'PUT', body, headers: { 'content-type': 'image/x-test', 'x-amz-meta-owner': 'ann' } })
    assert.equal(put.status, 200)
    assert.equal(put.headers.get('x-s3mesh-replicas'), '2', 'acknowledged with two copies')
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

  it('a DELETE on one node removes the object everywhere, files included', async () => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    await client(n1).send(new PutObjectCommand({ Bucket: 'shared', Key: 'gone.txt', Body: 'bye' }))
    await until('node 3 reads it', async () => (await client(n3).send(new HeadObjectCommand({ Bucket: 'shared', Key: 'gone.txt' }))).ContentLength === 3)
    await client(n2).send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'gone.txt' }))
    for (const n of nodes) {
      await until(`node ${n.port} no longer lists it`, async () => !((await client(n).send(new ListObjectsV2Command({ Bucket: 'shared' }))).Contents ?? []).some(o => o.Key === 'gone.txt'))
      await assert.rejects(client(n).send(new GetObjectCommand({ Bucket: 'shared', Key: 'gone.txt' })), (err: Error) => err.name === 'NoSuchKey')
    }
    const { existsSync } = await import('node:fs')
    await until('no node keeps the file', async () => nodes.every(n => !existsSync(`${n.dataDir}/shared/gone.txt`)))
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
})
