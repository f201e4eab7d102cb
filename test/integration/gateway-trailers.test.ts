/**
 * The edge's and a service worker's GatewayStore passing on a checksum that
 * is known only once the body has ended (a client's aws-chunked trailer) for
 * a body it streams on: it goes to the node as an aws-chunked trailer, which
 * the node checks and keeps, so a multipart upload that named an algorithm
 * completes. Against a real node; the store holds no body (replayableBytes 0).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ChecksumAlgorithm } from '../../src/core/checksums.js'
import { GatewayStore } from '../../src/gateway/gateway-store.js'
import { RemoteS3 } from '../../src/gateway/remote-s3.js'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { startServer, type RunningServer } from '../../src/node/server.js'
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server-process.js'

const MiB = 1024 * 1024

function digest (algorithm: 'CRC32' | 'SHA256', data: Uint8Array): string {
  const h = nodeHashes.create(algorithm === 'CRC32' ? 'crc32' : 'sha256')
  h.update(data)
  return Buffer.from(h.digest()).toString('base64')
}

/** A body in pieces, and its checksum as a client's trailer gives it: only once the last byte has been read. */
function trailing (data: Uint8Array, algorithm: 'CRC32' | 'SHA256'): { body: ReadableStream<Uint8Array>, checksum: () => { algorithm: ChecksumAlgorithm, value: string } | undefined, checksumAlgorithm: ChecksumAlgorithm } {
  let ended = false
  let at = 0
  const body = new ReadableStream<Uint8Array>({
    pull (c) {
      if (at >= data.byteLength) { ended = true; c.close(); return }
      const n = Math.min(100_000, data.byteLength - at)
      c.enqueue(data.slice(at, at + n))
      at += n
    },
  })
  return { body, checksum: () => ended ? { algorithm, value: digest(algorithm, data) } : undefined, checksumAlgorithm: algorithm }
}

describe('a gateway streaming a body on with its checksum as a trailer', () => {
  let root: string
  let server: RunningServer
  let store: GatewayStore
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 's3mesh-trailers-'))
    server = await startServer({ dataDir: root, host: '127.0.0.1', port: 0, fsync: false, env: { S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY } })
    store = new GatewayStore({
      remote: new RemoteS3({ endpoints: [server.url], accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, timeoutMs: 10_000, retryAfterMs: 1000 }),
      cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: 0,
    })
    await store.createBucket('trailers')
  })
  after(async () => { await server?.close(); await rm(root, { recursive: true, force: true }) })

  it('a PUT keeps it, whatever the body\'s size against the frames it is sent in (none, less than one, exactly some, more)', async () => {
    for (const size of [0, 1, 64 * 1024, 3 * 64 * 1024, 1_000_003]) {
      const data = randomBytes(size)
      const { body, checksum, checksumAlgorithm } = trailing(data, 'SHA256')
      await store.putObject('trailers', `put-${size}`, body, { metadata: { user: {} }, size, checksum, checksumAlgorithm })
      const head = await store.headObject('trailers', `put-${size}`)
      assert.deepEqual(head.metadata.checksum, { algorithm: 'SHA256', value: digest('SHA256', data), type: 'FULL_OBJECT' }, `${size} bytes`)
      assert.equal(head.size, size)
    }
  })

  it('a multipart upload that named an algorithm completes with parts whose checksums came as trailers', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(777)]
    const id = await store.createMultipartUpload('trailers', 'multi', { metadata: { user: {}, checksumPlan: { algorithm: 'CRC32', type: 'FULL_OBJECT' } } })
    const done = []
    for (const [i, data] of parts.entries()) {
      const { body, checksum, checksumAlgorithm } = trailing(data, 'CRC32')
      const part = await store.uploadPart('trailers', 'multi', id, i + 1, body, { size: data.byteLength, checksum, checksumAlgorithm })
      assert.deepEqual(part.checksum, { algorithm: 'CRC32', value: digest('CRC32', data) })
      assert.equal(part.size, data.byteLength)
      done.push({ partNumber: i + 1, etag: part.etag })
    }
    const info = await store.completeMultipartUpload('trailers', 'multi', id, done)
    assert.deepEqual(info.metadata.checksum, { algorithm: 'CRC32', value: digest('CRC32', Buffer.concat(parts)), type: 'FULL_OBJECT' })
  })
})
