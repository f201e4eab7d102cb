/** What the edge worker's tests share: the bundle a user deploys, two joined nodes in front of it, and a round of S3 through it. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before } from 'node:test'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3ServiceException } from '@aws-sdk/client-s3'
import { metric, metricSum, startServerProcess, ACCESS_KEY, SECRET_KEY, type ServerProcess } from './server-process.js'
import { sdkClient, signer } from './s3-client.js'
import { createEdgeHandler, edgeConfig } from '../../src/edge/worker.js'
import { toNodeListener } from '../../src/node/http-adapter.js'
export const BUNDLE = fileURLToPath(new URL('../../dist/edge-bundle/s3mesh-edge.js', import.meta.url))
/** The edge worker's handler (a memory cache that serves reads unasked for `ttl` seconds, a minute unless said) on a local port, in front of `node`. */
export async function edgeInFrontOf (node: ServerProcess, ttl = '60'): Promise<{ url: string, close: () => Promise<void> }> {
  const handler = await createEdgeHandler(edgeConfig({ S3MESH_NODES: node.url, S3MESH_ACCESS_KEY: ACCESS_KEY, S3MESH_SECRET_KEY: SECRET_KEY, S3MESH_CACHE: 'memory', S3MESH_CACHE_TTL_SECONDS: ttl }))
  const server: Server = createServer(toNodeListener(handler))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) } }
}

export const DENO = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url))

/**
 * Every S3 request the mesh's nodes answered (any operation, any status: a
 * revalidation's 304 or a HEAD counts as much as a GET), summed over nodes,
 * with the GETs answered 200 among them. /metrics itself is not counted.
 */
export async function meshRequests (nodes: ServerProcess[]): Promise<{ all: number, gets: number }> {
  let all = 0
  let gets = 0
  for (const n of nodes) {
    all += await metricSum(n, 's3mesh_http_requests_total')
    gets += (await metric(n, 's3mesh_http_requests_total{operation="GetObject",status="200"}')) || 0
  }
  return { all, gets }
}

/** What every runtime must do: the S3 a client sees through the worker is the mesh's. */
export async function exercise (endpoint: string, nodes: ServerProcess[], bucket: string): Promise<void> {
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
export function twoNodeMesh (): { nodes: ServerProcess[], bindings: Record<string, string> } {
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

