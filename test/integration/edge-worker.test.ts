/**
 * The edge worker (dist/edge-bundle/s3mesh-edge.js, the file a user deploys)
 * in workerd through miniflare, in Deno (`deno serve`) and imported by plain
 * Node, in front of two real `s3mesh server` processes: signed S3 through the
 * AWS SDK, bad signatures refused at the edge, cache hits that never reach the
 * mesh (counted by the nodes' own metrics), and failover when a node stops.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand, type S3ServiceException } from '@aws-sdk/client-s3'
import { Miniflare } from 'miniflare'
import { metric, metricSum, startServerProcess, ACCESS_KEY, SECRET_KEY, type ServerProcess } from '../helpers/server-process.js'
import { sdkClient, signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'
import { s3Signer } from '../../src/core/s3-signer.js'

const BUNDLE = fileURLToPath(new URL('../../dist/edge-bundle/s3mesh-edge.js', import.meta.url))
const DENO = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url))

/**
 * Every S3 request the mesh's nodes answered (any operation, any status: a
 * revalidation's 304 or a HEAD counts as much as a GET), summed over nodes,
 * with the GETs answered 200 among them. /metrics itself is not counted.
 */
async function meshRequests (nodes: ServerProcess[]): Promise<{ all: number, gets: number }> {
  let all = 0
  let gets = 0
  for (const n of nodes) {
    all += await metricSum(n, 's3mesh_http_requests_total')
    gets += (await metric(n, 's3mesh_http_requests_total{operation="GetObject",status="200"}')) || 0
  }
  return { all, gets }
}

/** What every runtime must do: the S3 a client sees through the worker is the mesh's. */
async function exercise (endpoint: string, nodes: ServerProcess[], bucket: string): Promise<void> {
  const s3 = sdkClient(endpoint)
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  const body = randomBytes(100_000)
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/photo.jpg', Body: body, ContentType: 'image/jpeg', Metadata: { camera: 'x100' } }))
  assert.match(put.ETag ?? '', /^"[0-9a-f]{32}"$/)
  // In the mesh: a node answers it directly.
  const direct = await signer().fetch(`${nodes[1]!.url}/${bucket}/dir/photo.jpg`)
  assert.equal(direct.status, 200)
  assert.deepEqual(Buffer.from(await direct.arrayBuffer()), body)
  assert.equal(direct.headers.get('x-amz-meta-camera'), 'x100')

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/photo.jpg' }))
  assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body)
  assert.equal(got.ContentType, 'image/jpeg')
  assert.equal(got.Metadata?.camera, 'x100')
  const range = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/photo.jpg', Range: 'bytes=10-19' }))
  assert.deepEqual(Buffer.from(await range.Body!.transformToByteArray()), body.subarray(10, 20))

  // Made elsewhere, listed here, with folders.
  assert.equal((await signer().fetch(`${nodes[0]!.url}/${bucket}/top.txt`, { method: 'PUT', body: 'top' })).status, 200)
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }))
  assert.deepEqual(listed.Contents?.map(c => c.Key), ['top.txt'])
  assert.deepEqual(listed.CommonPrefixes?.map(p => p.Prefix), ['dir/'])

  // A copy made through the worker (read from the mesh, written back), and a batch delete.
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy.jpg', CopySource: `${bucket}/dir/photo.jpg` }))
  assert.deepEqual(Buffer.from(await (await signer().fetch(`${nodes[0]!.url}/${bucket}/copy.jpg`)).arrayBuffer()), body)
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'copy.jpg' }, { Key: 'never-was' }] } }))
  assert.deepEqual(batch.Deleted?.map(d => d.Key).sort(), ['copy.jpg', 'never-was'])
  assert.equal((await signer().fetch(`${nodes[0]!.url}/${bucket}/copy.jpg`, { method: 'HEAD' })).status, 404)

  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dir/photo.jpg' }))
  assert.equal((await signer().fetch(`${nodes[0]!.url}/${bucket}/dir/photo.jpg`, { method: 'HEAD' })).status, 404)
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/photo.jpg' })), (err: S3ServiceException) => err.$metadata.httpStatusCode === 404)

  // A wrong secret is refused by the worker itself.
  await assert.rejects(sdkClient(endpoint, 'not-the-secret-key').send(new GetObjectCommand({ Bucket: bucket, Key: 'top.txt' })), (err: S3ServiceException) => err.name === 'SignatureDoesNotMatch')
}

/** Two joined nodes (each object on both) for the suite that calls it, and the worker's bindings towards them. */
function twoNodeMesh (): { nodes: ServerProcess[], bindings: Record<string, string> } {
  const mesh = { nodes: [] as ServerProcess[], bindings: {} as Record<string, string> }
  before(async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    const args = ['--membership', 'local', '--replicas', '2']
    mesh.nodes.push(await startServerProcess({ env, args }))
    mesh.nodes.push(await startServerProcess({ env, args: [...args, '--join', mesh.nodes[0]!.meshAddress!] }))
    mesh.bindings = { S3MESH_NODES: mesh.nodes.map(n => n.url).join(','), S3MESH_ACCESS_KEY: ACCESS_KEY, S3MESH_SECRET_KEY: SECRET_KEY }
  })
  after(async () => { for (const n of mesh.nodes) await n.stop().catch(() => {}) })
  return mesh
}

describe('the edge worker', () => {
  const mesh = twoNodeMesh()
  const { nodes } = mesh

  describe('in workerd (miniflare)', () => {
    let mf: Miniflare
    let url: string
    before(async () => {
      mf = new Miniflare({ modules: true, scriptPath: BUNDLE, compatibilityDate: '2025-07-01', bindings: { ...mesh.bindings, S3MESH_CACHE_TTL_SECONDS: '60' }, host: '127.0.0.1', port: 0 })
      url = (await mf.ready).toString().replace(/\/$/, '')
    })
    after(async () => { await mf?.dispose() })

    it('serves signed S3 from the mesh and refuses bad signatures', async () => {
      await exercise(url, nodes, 'workerd')
    })

    it('multipart uploads go through whole (every part to the node that began it)', async () => {
      // Slow here (about 6 s): the SDK waits that long for a 100 Continue that workerd run locally never sends.
      const s3 = sdkClient(url)
      const body = randomBytes(11 * 1024 * 1024)
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'workerd', Key: 'big.bin' }))
      const parts = await Promise.all([0, 1, 2].map(async i => {
        const part = await s3.send(new UploadPartCommand({ Bucket: 'workerd', Key: 'big.bin', UploadId, PartNumber: i + 1, Body: body.subarray(i * 5 * 1024 * 1024, (i + 1) * 5 * 1024 * 1024) }))
        return { PartNumber: i + 1, ETag: part.ETag }
      }))
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'workerd', Key: 'big.bin', UploadId, MultipartUpload: { Parts: parts } }))
      const direct = await signer().fetch(`${nodes[1]!.url}/workerd/big.bin`)
      assert.match(direct.headers.get('etag') ?? '', /-3"$/)
      assert.deepEqual(Buffer.from(await direct.arrayBuffer()), body)
    })

    it('streams a body too large to hold (over 16 MiB) to one node, in and out', async () => {
      const s3 = sdkClient(url)
      const body = randomBytes(20 * 1024 * 1024)
      // aws4fetch, not the SDK: workerd run locally does not answer Expect: 100-continue, on which the SDK then waits 6 s.
      assert.equal((await signer().fetch(`${url}/workerd/huge.bin`, { method: 'PUT', body })).status, 200)
      const direct = await signer().fetch(`${nodes[0]!.url}/workerd/huge.bin`)
      assert.deepEqual(Buffer.from(await direct.arrayBuffer()), body)
      const got = await s3.send(new GetObjectCommand({ Bucket: 'workerd', Key: 'huge.bin', Range: 'bytes=16777200-16777299' }))
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body.subarray(16777200, 16777300))
    })

    it('answers a cached GET without asking the mesh, and drops the entry on its own writes', async () => {
      const s3 = sdkClient(url)
      await s3.send(new PutObjectCommand({ Bucket: 'workerd', Key: 'hot.txt', Body: 'first' }))
      const read = async (): Promise<string> => await (await s3.send(new GetObjectCommand({ Bucket: 'workerd', Key: 'hot.txt' }))).Body!.transformToString()
      const before = await meshRequests(nodes)
      assert.equal(await read(), 'first')
      assert.deepEqual(await meshRequests(nodes), { all: before.all + 1, gets: before.gets + 1 }, 'the first read is a miss: one GET reached the mesh')
      for (let i = 0; i < 5; i++) assert.equal(await read(), 'first')
      assert.deepEqual(await meshRequests(nodes), { all: before.all + 1, gets: before.gets + 1 }, 'five hits: no request of any kind reached the mesh')
      await s3.send(new PutObjectCommand({ Bucket: 'workerd', Key: 'hot.txt', Body: 'second' }))
      assert.equal(await read(), 'second', 'a write through the worker is seen at once')
    })

    it('fails over when a mesh node stops', async () => {
      const s3 = sdkClient(url)
      await s3.send(new PutObjectCommand({ Bucket: 'workerd', Key: 'kept.txt', Body: 'kept on both' }))
      await nodes[0]!.stop()
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'workerd', Key: 'kept.txt' }))).Body!.transformToString(), 'kept on both')
      await s3.send(new PutObjectCommand({ Bucket: 'workerd', Key: 'after.txt', Body: 'written with one node down' }))
      assert.equal(await (await signer().fetch(`${nodes[1]!.url}/workerd/after.txt`)).text(), 'written with one node down')
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'workerd', Prefix: 'after' }))
      assert.deepEqual(listed.Contents?.map(c => c.Key), ['after.txt'])
    })
  })
})

describe('the edge worker in Deno and in Node', () => {
  const mesh = twoNodeMesh()
  const { nodes } = mesh

  it('runs under `deno serve`, configured from the environment', async () => {
    const deno: ChildProcess = spawn(DENO, ['serve', '--host', '127.0.0.1', '--port', '0', '--allow-net', '--allow-env', '--no-prompt', BUNDLE], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...mesh.bindings },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`deno serve printed no address: ${out}`)) }, 30_000)
        const seen = (b: Buffer): void => {
          out += b.toString()
          const found = /Listening on (http:\/\/\S+?)\/?\s/.exec(out)?.[1]
          if (found !== undefined) { clearTimeout(timer); resolve(found) }
        }
        deno.stdout!.on('data', seen)
        deno.stderr!.on('data', seen)
        deno.once('exit', code => { reject(new Error(`deno exited (${code}): ${out}`)) })
      })
      await exercise(url, nodes, 'deno')
    } finally {
      deno.kill()
    }
  })

  it('imports into plain Node and answers Requests, a memory cache keeping GETs from the mesh', async () => {
    const worker = (await import(BUNDLE) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const env = { ...mesh.bindings, S3MESH_CACHE: 'memory', S3MESH_CACHE_TTL_SECONDS: '60' }
    const client = signer()
    const send = async (path: string, init: RequestInit = {}): Promise<Response> => await worker.fetch(await client.sign(`http://edge.test${path}`, init), env)
    assert.equal((await send('/plain', { method: 'PUT' })).status, 200)
    assert.equal((await send('/plain/a.txt', { method: 'PUT', body: 'from node' })).status, 200)
    const before = await meshRequests(nodes)
    for (let i = 0; i < 3; i++) assert.equal(await (await send('/plain/a.txt')).text(), 'from node')
    assert.deepEqual(await meshRequests(nodes), { all: before.all + 1, gets: before.gets + 1 }, 'one miss, two hits: one request reached the mesh')
    // An ETag the cache knows answers 304 from the edge.
    const etag = (await send('/plain/a.txt', { method: 'HEAD' })).headers.get('etag')!
    const beforeConditional = await meshRequests(nodes)
    assert.equal((await send('/plain/a.txt', { headers: { 'if-none-match': etag } })).status, 304)
    assert.deepEqual(await meshRequests(nodes), beforeConditional, 'the 304 came from the edge: no request reached the mesh')
    // Virtual-hosted style under a configured domain.
    const hosted = await worker.fetch(await client.sign('http://plain.s3.edge.test/a.txt'), { ...env, S3MESH_DOMAINS: 's3.edge.test' })
    assert.equal(await hosted.text(), 'from node')
    const forged = await signer('not-the-secret-key').sign('http://edge.test/plain/a.txt')
    assert.equal((await worker.fetch(forged, env)).status, 403)
    assert.equal((await worker.fetch(new Request('http://edge.test/plain/a.txt'), env)).status, 403, 'anonymous')
  })

  it('enforces the mesh\'s users and policies at the edge, and stops a disabled user within its TTL', async () => {
    const worker = (await import(BUNDLE) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const env = { ...mesh.bindings, S3MESH_CACHE: 'off', S3MESH_ACCESS_TTL_SECONDS: '1' }
    const root = signer()
    const iam = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'iam')
    const call = async (params: Record<string, string>): Promise<string> => {
      const res = await iam.fetch(`${nodes[0]!.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString() })
      const text = await res.text()
      assert.equal(res.status, 200, text)
      return text
    }
    await call({ Action: 'CreateUser', UserName: 'edge-reader' })
    await call({ Action: 'AttachUserPolicy', UserName: 'edge-reader', PolicyArn: 'readonly' })
    const xml = await call({ Action: 'CreateAccessKey', UserName: 'edge-reader' })
    const reader = s3Signer({ accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! })
    assert.equal((await worker.fetch(await root.sign('http://edge.test/edge-users', { method: 'PUT' }), env)).status, 200)
    assert.equal((await worker.fetch(await root.sign('http://edge.test/edge-users/a.txt', { method: 'PUT', body: 'for readers' }), env)).status, 200)
    const read = await worker.fetch(await reader.sign('http://edge.test/edge-users/a.txt'), env)
    assert.equal(await read.text(), 'for readers', 'the readonly user reads through the edge')
    const write = await worker.fetch(await reader.sign('http://edge.test/edge-users/b.txt', { method: 'PUT', body: 'no' }), env)
    assert.equal(write.status, 403)
    assert.match(await write.text(), /<Code>AccessDenied<\/Code>/)
    const iamAtEdge = await worker.fetch(await iam.sign('http://edge.test/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=ListUsers&Version=2010-05-08' }), env)
    assert.notEqual(iamAtEdge.status, 200, 'the edge does not serve IAM (its copy of the state is read-only)')
    // Temporary credentials issued by a node work at the edge (it asks a node to open the token).
    const readerKey = { accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! }
    const assumed = await s3Signer(readerKey, 'sts').fetch(`${nodes[1]!.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=edge&DurationSeconds=900&Version=2011-06-15' })
    const stsXml = await assumed.text()
    assert.equal(assumed.status, 200, stsXml)
    const temporary = s3Signer({ accessKeyId: /<AccessKeyId>([^<]+)/.exec(stsXml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(stsXml)![1]!, sessionToken: /<SessionToken>([^<]+)/.exec(stsXml)![1]! })
    assert.equal(await (await worker.fetch(await temporary.sign('http://edge.test/edge-users/a.txt'), env)).text(), 'for readers')
    assert.equal((await worker.fetch(await temporary.sign('http://edge.test/edge-users/c.txt', { method: 'PUT', body: 'no' }), env)).status, 403)
    await call({ Action: 'SetUserStatus', UserName: 'edge-reader', Status: 'Disabled' })
    await until('the edge refuses the disabled user', async () => (await worker.fetch(await reader.sign('http://edge.test/edge-users/a.txt'), env)).status === 403, 5_000)
    assert.equal((await worker.fetch(await temporary.sign('http://edge.test/edge-users/a.txt'), env)).status, 400, 'and its temporary credentials (InvalidToken)')
  })

  it('says what to fix when its bindings are missing (imported as the package export s3mesh/edge)', async () => {
    const specifier = 's3mesh/edge'
    const worker = (await import(specifier) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const res = await worker.fetch(new Request('http://edge.test/'), { S3MESH_NODES: 'ftp://nowhere' })
    assert.equal(res.status, 503)
    assert.match(await res.text(), /S3MESH_ACCESS_KEY, S3MESH_SECRET_KEY/)
  })
})
