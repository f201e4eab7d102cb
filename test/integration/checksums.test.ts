/**
 * Checksums kept and returned, multipart checksums (composite and
 * full-object) and GET/HEAD ?partNumber, with the AWS SDK v3 against real
 * `s3mesh server` processes: one node, then two mesh members where what node 1
 * was sent is what node 2 returns. The SDK checks what it gets back against
 * the checksum it is given (ChecksumMode), so a wrong one fails the read.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectAttributesCommand, GetObjectCommand,
  HeadObjectCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, UploadPartCopyCommand, type ChecksumAlgorithm, type S3Client,
} from '@aws-sdk/client-s3'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { sdkClient, sdkOutcome, signer } from '../helpers/s3-client.js'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const B = 'summed'
const sign = signer()
const MiB = 1024 * 1024

async function checksum (algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  if (algorithm === 'CRC64NVME') {
    const c = new Crc64Nvme()
    c.update(data)
    return Buffer.from(await c.digest()).toString('base64')
  }
  if (algorithm === 'SHA1' || algorithm === 'SHA256') return createHash(algorithm.toLowerCase()).update(data).digest('base64')
  const h = nodeHashes.create(algorithm.toLowerCase() as 'crc32' | 'crc32c')
  h.update(data)
  return Buffer.from(h.digest()).toString('base64')
}

/** A multipart upload of `parts` with the algorithm; each part's checksum sent and named in the completion. */
async function upload (s3: S3Client, key: string, parts: Buffer[], algorithm: ChecksumAlgorithm, type: 'COMPOSITE' | 'FULL_OBJECT') {
  const { UploadId, ChecksumAlgorithm: planned, ChecksumType: plannedType } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key, ChecksumAlgorithm: algorithm, ChecksumType: type }))
  assert.deepEqual([planned, plannedType], [algorithm, type])
  const done = []
  for (const [i, body] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: algorithm }))
    const sum = r[`Checksum${algorithm}`]
    assert.equal(sum, await checksum(algorithm, body), 'UploadPart answers with the part\'s checksum')
    done.push({ PartNumber: i + 1, ETag: r.ETag!, [`Checksum${algorithm}`]: sum })
  }
  return { UploadId: UploadId!, parts: done }
}

const parts3 = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(123_457)]
const whole3 = Buffer.concat(parts3)

describe('checksums on one node', () => {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('a PUT\'s checksum (header or trailer, each algorithm) is kept: HEAD, GET and GetObjectAttributes return it when asked, and the SDK checks the bytes against it', async () => {
    const data = randomBytes(300_000)
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const expected = await checksum(algorithm, data)
      // A buffer goes with the checksum in a header, a stream with it in an aws-chunked trailer.
      for (const [how, Body] of [['header', data], ['trailer', Readable.from([data.subarray(0, 100_000), data.subarray(100_000)])]] as const) {
        const key = `${algorithm}-${how}`
        const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body, ContentLength: data.length, ChecksumAlgorithm: algorithm }))
        assert.equal(put[`Checksum${algorithm}`], expected, `${key}: PutObject answers with it`)
        const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }))
        assert.deepEqual([head[`Checksum${algorithm}`], head.ChecksumType], [expected, 'FULL_OBJECT'], key)
        const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }))
        assert.equal(got[`Checksum${algorithm}`], expected, key)
        assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data), `${key}: read whole, checked by the SDK`)
        const attributes = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: key, ObjectAttributes: ['Checksum'] }))
        assert.deepEqual(attributes.Checksum, { [`Checksum${algorithm}`]: expected, ChecksumType: 'FULL_OBJECT' }, key)
      }
    }
    const plain = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'CRC32-header' }))
    assert.equal(plain.ChecksumCRC32, undefined, 'only when asked (x-amz-checksum-mode)')
    const ranged = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'CRC32-header', ChecksumMode: 'ENABLED', Range: 'bytes=0-99' }))
    assert.equal(ranged.ChecksumCRC32, undefined, 'not for a range: the object\'s checksum is not of its bytes')
    assert.equal((await ranged.Body!.transformToByteArray()).length, 100)
  })

  it('refusals: two checksums at once, a checksum or Content-MD5 that an empty body does not match', async () => {
    const crc = await checksum('CRC32', Buffer.from('x'))
    const two = await sign.fetch(`${server.url}/${B}/two`, { method: 'PUT', body: 'x', headers: { 'x-amz-checksum-crc32': crc, 'x-amz-checksum-sha1': await checksum('SHA1', Buffer.from('x')) } })
    assert.equal(two.status, 400)
    assert.match(await two.text(), /<Code>InvalidRequest<\/Code>/)
    const empty = await sign.fetch(`${server.url}/${B}/empty`, { method: 'PUT', headers: { 'x-amz-checksum-crc32': crc } })
    assert.equal(empty.status, 400, 'the checksum of one byte is not that of none')
    assert.match(await empty.text(), /<Code>BadDigest<\/Code>/)
    const md5 = await sign.fetch(`${server.url}/${B}/empty`, { method: 'PUT', headers: { 'content-md5': createHash('md5').update('x').digest('base64') } })
    assert.equal(md5.status, 400)
    assert.equal(await sdkOutcome(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'empty' }))), '404 NotFound', 'nothing stored')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'empty', Body: '', ChecksumAlgorithm: 'CRC32' }))
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'empty', ChecksumMode: 'ENABLED' }))).ChecksumCRC32, 'AAAAAA==')
  })

  it('multipart COMPOSITE (CRC32, SHA256): parts checked and listed with their checksums; the object\'s is the checksum of theirs, -N', async () => {
    for (const algorithm of ['CRC32', 'SHA256'] as const) {
      const key = `composite-${algorithm}`
      const { UploadId, parts } = await upload(s3, key, parts3, algorithm, 'COMPOSITE')
      const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId }))
      assert.deepEqual(listed.Parts!.map(p => p[`Checksum${algorithm}`]), parts.map(p => p[`Checksum${algorithm}`]))
      const sums = await Promise.all(parts3.map(async p => Buffer.from(await checksum(algorithm, p), 'base64')))
      const expected = `${await checksum(algorithm, Buffer.concat(sums))}-3`
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
      assert.deepEqual([done[`Checksum${algorithm}`], done.ChecksumType], [expected, 'COMPOSITE'])
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }))
      assert.deepEqual([head[`Checksum${algorithm}`], head.ChecksumType], [expected, 'COMPOSITE'])
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }))
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(whole3))
    }
  })

  it('multipart FULL_OBJECT (CRC64/NVME, CRC32C): the object\'s CRC is that of all its bytes, made from the parts\' without reading them; the SDK checks a GET against it', async () => {
    for (const algorithm of ['CRC64NVME', 'CRC32C'] as const) {
      const key = `full-${algorithm}`
      const { UploadId, parts } = await upload(s3, key, parts3, algorithm, 'FULL_OBJECT')
      const expected = await checksum(algorithm, whole3)
      const wrong = await sign.fetch(`${server.url}/${B}/${key}?uploadId=${UploadId}`, {
        method: 'POST',
        body: `<CompleteMultipartUpload>${parts.map(p => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
        headers: { [`x-amz-checksum-${algorithm.toLowerCase()}`]: await checksum(algorithm, parts3[0]!), 'x-amz-checksum-type': 'FULL_OBJECT' },
      })
      assert.equal(wrong.status, 400, 'a whole-object checksum that is not the bytes\' is refused')
      assert.match(await wrong.text(), /<Code>BadDigest<\/Code>/)
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: parts }, ChecksumType: 'FULL_OBJECT', [`Checksum${algorithm}`]: expected }))
      assert.deepEqual([done[`Checksum${algorithm}`], done.ChecksumType], [expected, 'FULL_OBJECT'])
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }))
      assert.equal(got[`Checksum${algorithm}`], expected)
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(whole3), 'read whole, checked by the SDK')
    }
  })

  it('a completion naming a part\'s checksum wrongly is InvalidPart (the upload stays); a part sent without one, or copied (UploadPartCopy), gets the upload\'s from its bytes', async () => {
    const { UploadId, parts } = await upload(s3, 'mixed', parts3.slice(0, 1), 'CRC32', 'COMPOSITE')
    assert.equal(await sdkOutcome(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mixed', UploadId, MultipartUpload: { Parts: [{ ...parts[0]!, ChecksumCRC32: 'AAAAAA==' }] } }))), '400 InvalidPart')
    assert.equal((await s3.send(new ListPartsCommand({ Bucket: B, Key: 'mixed', UploadId }))).Parts!.length, 1, 'the upload is still there')
    const bare = await sign.fetch(`${server.url}/${B}/mixed?partNumber=2&uploadId=${UploadId}`, { method: 'PUT', body: parts3[1]! })
    assert.equal(bare.status, 200)
    assert.equal(bare.headers.get('x-amz-checksum-crc32'), await checksum('CRC32', parts3[1]!), 'worked out from the bytes')
    const copied = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'mixed', UploadId, PartNumber: 3, CopySource: `${B}/CRC32-header`, CopySourceRange: 'bytes=0-999' }))
    const source = (await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'CRC32-header', Range: 'bytes=0-999' }))).Body!.transformToByteArray())
    assert.equal(copied.CopyPartResult?.ChecksumCRC32, await checksum('CRC32', source))
    const all = [...parts, { PartNumber: 2, ETag: bare.headers.get('etag')! }, { PartNumber: 3, ETag: copied.CopyPartResult!.ETag! }]
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mixed', UploadId, MultipartUpload: { Parts: all } }))
    const sums = await Promise.all([parts3[0]!, parts3[1]!, source].map(async p => Buffer.from(await checksum('CRC32', p), 'base64')))
    assert.equal(done.ChecksumCRC32, `${await checksum('CRC32', Buffer.concat(sums))}-3`)
    assert.equal(await sdkOutcome(s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'x', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' }))), '400 InvalidRequest', 'SHA-256 is composite only')
  })

  it('GET and HEAD ?partNumber=N answer one part as it was uploaded; GetObjectAttributes lists the parts\' sizes a page at a time', async () => {
    const key = 'composite-CRC32'
    for (const [i, part] of parts3.entries()) {
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: i + 1 }))
      const start = parts3.slice(0, i).reduce((n, p) => n + p.length, 0)
      assert.deepEqual([got.ContentLength, got.PartsCount, got.ContentRange], [part.length, 3, `bytes ${start}-${start + part.length - 1}/${whole3.length}`])
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(part), `part ${i + 1}`)
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, PartNumber: i + 1 }))
      assert.deepEqual([head.ContentLength, head.PartsCount], [part.length, 3])
    }
    const whole = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key }))
    assert.deepEqual([whole.ContentLength, whole.PartsCount], [whole3.length, undefined], 'S3 counts the parts only for a read of one part')
    assert.equal(await sdkOutcome(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: 4 }))), '416 InvalidPartNumber')
    assert.equal(await sdkOutcome(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: 1, Range: 'bytes=0-1' }))), '400 InvalidRequest')
    const single = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'CRC32-header', PartNumber: 1 }))
    assert.equal(single.ContentLength, 300_000, 'part 1 of a single PUT is all of it')
    await single.Body!.transformToByteArray()
    assert.equal(await sdkOutcome(s3.send(new GetObjectCommand({ Bucket: B, Key: 'CRC32-header', PartNumber: 2 }))), '416 InvalidPartNumber')

    const page = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: key, ObjectAttributes: ['ObjectParts'], MaxParts: 2 }))
    assert.deepEqual(page.ObjectParts?.Parts?.map(p => [p.PartNumber, p.Size]), [[1, 5 * MiB], [2, 5 * MiB]])
    assert.deepEqual([page.ObjectParts?.TotalPartsCount, page.ObjectParts?.IsTruncated, page.ObjectParts?.NextPartNumberMarker], [3, true, '2'])
    const next = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: key, ObjectAttributes: ['ObjectParts'], PartNumberMarker: '2' }))
    assert.deepEqual(next.ObjectParts?.Parts?.map(p => [p.PartNumber, p.Size]), [[3, 123_457]])
    assert.equal(next.ObjectParts?.IsTruncated, false)
  })

  it('a copy keeps a full-object checksum and is one part; a composite one does not carry over', async () => {
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-full', CopySource: `${B}/full-CRC64NVME` }))
    const full = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy-full', ChecksumMode: 'ENABLED' }))
    assert.deepEqual([full.ChecksumCRC64NVME, full.PartsCount], [await checksum('CRC64NVME', whole3), undefined])
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-composite', CopySource: `${B}/composite-CRC32` }))
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy-composite', ChecksumMode: 'ENABLED' }))).ChecksumCRC32, undefined)
    assert.equal(await sdkOutcome(s3.send(new GetObjectCommand({ Bucket: B, Key: 'copy-composite', PartNumber: 2 }))), '416 InvalidPartNumber')
  })

  it('what was kept survives a restart', async () => {
    await server.stop({ remove: false })
    s3.destroy()
    server = await startServerProcess({ dataDir: server.dataDir })
    s3 = sdkClient(server.url)
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'full-CRC64NVME', ChecksumMode: 'ENABLED' }))
    assert.equal(head.ChecksumCRC64NVME, await checksum('CRC64NVME', whole3))
    const part = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'full-CRC64NVME', PartNumber: 3 }))
    assert.ok(Buffer.from(await part.Body!.transformToByteArray()).equals(parts3[2]!))
  })
})

describe('checksums across two mesh members', () => {
  const nodes: ServerProcess[] = []
  const clients: S3Client[] = []
  before(async () => {
    nodes.push(...await startMeshProcesses(2))
    for (const n of nodes) clients.push(sdkClient(n.url))
    await clients[0]!.send(new CreateBucketCommand({ Bucket: B }))
    await until('node 2 has the bucket', async () => (await sdkOutcome(clients[1]!.send(new PutObjectCommand({ Bucket: B, Key: 'probe', Body: 'p' })))) === 'no error')
  })
  after(async () => { for (const c of clients) c.destroy(); for (const n of nodes) await n.stop().catch(() => {}) })

  it('a checksum sent to node 1 (in a trailer, known only at the end of the bytes its replica is streamed) is what node 2 returns', async () => {
    const data = randomBytes(2 * MiB)
    const put = await clients[0]!.send(new PutObjectCommand({ Bucket: B, Key: 'streamed', Body: Readable.from([data]), ContentLength: data.length, ChecksumAlgorithm: 'CRC32C' }))
    assert.equal(put.$metadata.httpStatusCode, 200)
    const expected = await checksum('CRC32C', data)
    const head = await clients[1]!.send(new HeadObjectCommand({ Bucket: B, Key: 'streamed', ChecksumMode: 'ENABLED' }))
    assert.equal(head.ChecksumCRC32C, expected, 'from the catalog')
    const got = await clients[1]!.send(new GetObjectCommand({ Bucket: B, Key: 'streamed', ChecksumMode: 'ENABLED' }))
    assert.equal(got.ChecksumCRC32C, expected, 'from node 2\'s own copy')
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data))
  })

  it('a multipart object completed on node 1: node 2 returns its checksum and reads its parts', async () => {
    const { UploadId, parts } = await upload(clients[0]!, 'multi', parts3, 'CRC32', 'FULL_OBJECT')
    await clients[0]!.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'multi', UploadId, MultipartUpload: { Parts: parts }, ChecksumType: 'FULL_OBJECT' }))
    const got = await clients[1]!.send(new GetObjectCommand({ Bucket: B, Key: 'multi', ChecksumMode: 'ENABLED' }))
    assert.equal(got.ChecksumCRC32, await checksum('CRC32', whole3))
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(whole3))
    const part = await clients[1]!.send(new GetObjectCommand({ Bucket: B, Key: 'multi', PartNumber: 2 }))
    assert.ok(Buffer.from(await part.Body!.transformToByteArray()).equals(parts3[1]!))
  })
})
