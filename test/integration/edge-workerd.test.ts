/**
 * The edge worker (dist/edge-bundle/s3mesh-edge.js, the file a user deploys)
 * in workerd through miniflare, in front of two real `s3mesh server`
 * processes. A file of its own: importing miniflare 4 into a Node 22 process
 * breaks that process's fetch of the worker's streamed bodies ("fetch
 * failed"), which the worker imported by plain Node (edge-worker.test.ts) uses.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import { Miniflare } from 'miniflare'
import { sdkClient, signer } from '../helpers/s3-client.js'

import { BUNDLE, exercise, meshRequests, twoNodeMesh } from '../helpers/edge.js'

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

