/** The AWS SDK for JS v3, default settings, against the real `s3mesh server` process. */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteBucketCommand, DeleteBucketCorsCommand, DeleteObjectCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand,
  GetBucketCorsCommand, GetBucketLocationCommand, GetObjectAttributesCommand, GetObjectCommand, GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand,
  ListBucketsCommand, ListMultipartUploadsCommand, ListObjectsCommand, ListObjectsV2Command, ListPartsCommand, PutBucketCorsCommand,
  PutObjectCommand, PutObjectTaggingCommand, UploadPartCommand, UploadPartCopyCommand, type S3Client,
  GetBucketEncryptionCommand, GetBucketTaggingCommand, GetBucketWebsiteCommand, GetBucketReplicationCommand, GetPublicAccessBlockCommand, GetBucketOwnershipControlsCommand,
  GetObjectAclCommand, PutObjectAclCommand, GetBucketRequestPaymentCommand, GetBucketLoggingCommand, GetBucketAccelerateConfigurationCommand, GetBucketNotificationConfigurationCommand, PutBucketTaggingCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { sdkClient } from '../helpers/s3-client.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex')

/** The S3 error code the SDK surfaced, or the HTTP status for bodiless answers such as 304. */
async function errorName (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) {
    const e = err as { name: string, $metadata?: { httpStatusCode?: number } }
    return e.name === 'Unknown' ? String(e.$metadata?.httpStatusCode) : e.name
  }
  return 'no error'
}

describe('AWS SDK v3 against s3mesh server', () => {
  let server: ServerProcess
  let s3: S3Client
  const B = 'sdk-bucket'
  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('buckets: create, list, head, location, naming rules, delete', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'second-bucket' }))
    const names = (await s3.send(new ListBucketsCommand({}))).Buckets!.map(b => b.Name)
    assert.deepEqual(names, [B, 'second-bucket'])
    await s3.send(new HeadBucketCommand({ Bucket: 'second-bucket' }))
    assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: B }))).LocationConstraint, undefined)
    assert.equal(await errorName(s3.send(new CreateBucketCommand({ Bucket: 'second-bucket' }))), 'BucketAlreadyOwnedByYou')
    assert.equal(await errorName(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' }))), 'InvalidBucketName')
    await s3.send(new PutObjectCommand({ Bucket: 'second-bucket', Key: 'x', Body: 'x' }))
    assert.equal(await errorName(s3.send(new DeleteBucketCommand({ Bucket: 'second-bucket' }))), 'BucketNotEmpty')
    await s3.send(new DeleteObjectCommand({ Bucket: 'second-bucket', Key: 'x' }))
    await s3.send(new DeleteBucketCommand({ Bucket: 'second-bucket' }))
    assert.equal(await errorName(s3.send(new HeadBucketCommand({ Bucket: 'second-bucket' }))), 'NotFound')
  })

  it('ListBuckets pages with MaxBuckets and ContinuationToken, and lists only names under a Prefix (S3\'s 2024 paging)', async () => {
    const made = ['page-a', 'page-b', 'page-c', 'paging-d']
    for (const Bucket of made) await s3.send(new CreateBucketCommand({ Bucket }))
    try {
      const pages: string[][] = []
      let token: string | undefined
      do {
        const page = await s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'pag', ...(token === undefined ? {} : { ContinuationToken: token }) }))
        assert.equal(page.Prefix, 'pag')
        assert.ok(page.Buckets!.every(b => b.BucketRegion === 'us-east-1'), 'a paged listing says each bucket\'s region')
        pages.push(page.Buckets!.map(b => b.Name!))
        token = page.ContinuationToken
      } while (token !== undefined)
      assert.deepEqual(pages, [['page-a', 'page-b'], ['page-c', 'paging-d']])
      const all = await s3.send(new ListBucketsCommand({}))
      assert.deepEqual(all.Buckets!.map(b => b.Name), [...made, B], 'no MaxBuckets: every bucket, in one page')
      assert.equal(all.ContinuationToken, undefined)
      assert.deepEqual((await s3.send(new ListBucketsCommand({ Prefix: 'page-' }))).Buckets!.map(b => b.Name), ['page-a', 'page-b', 'page-c'])
      assert.deepEqual((await s3.send(new ListBucketsCommand({ BucketRegion: 'eu-west-3' }))).Buckets ?? [], [], 'no bucket is in another region')
      assert.equal(await errorName(s3.send(new ListBucketsCommand({ MaxBuckets: 0 }))), 'InvalidArgument')
      assert.equal(await errorName(s3.send(new ListBucketsCommand({ ContinuationToken: '!!' }))), 'InvalidArgument')
    } finally {
      for (const Bucket of made) await s3.send(new DeleteBucketCommand({ Bucket }))
    }
  })

  it('refuses a storage class S3 does not have with InvalidStorageClass, storing nothing, and takes S3\'s own (kept as STANDARD)', async () => {
    const refused = s3.send(new PutObjectCommand({ Bucket: B, Key: 'classy', Body: 'x', StorageClass: 'PLATINUM' as 'STANDARD' }))
    assert.equal(await errorName(refused), 'InvalidStorageClass')
    assert.equal(await errorName(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'classy' }))), 'NotFound')
    assert.equal(await errorName(s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'classy', StorageClass: 'PLATINUM' as 'STANDARD' }))), 'InvalidStorageClass')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'classy', Body: 'x', StorageClass: 'STANDARD_IA' }))
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'classy', CopySource: `${B}/classy`, StorageClass: 'PLATINUM' as 'STANDARD' }))), 'InvalidStorageClass')
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'classy', CopySource: `${B}/classy`, StorageClass: 'FSX_ONTAP' }))
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'classy' }))
  })

  it('put and get with metadata, string and stream bodies (CRC32 and CRC64/NVME checksums, aws-chunked)', async () => {
    const body = randomBytes(300_000)
    const put = await s3.send(new PutObjectCommand({
      Bucket: B, Key: 'docs/report.bin', Body: body, ContentType: 'application/x-report', CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="r.bin"', Metadata: { author: 'ada' }, Tagging: 'team=core&year=2026',
    }))
    assert.equal(put.ETag, `"${md5(body)}"`)
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'docs/report.bin' }))
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body)
    assert.equal(got.ContentType, 'application/x-report')
    assert.equal(got.CacheControl, 'max-age=60')
    assert.equal(got.ContentDisposition, 'attachment; filename="r.bin"')
    assert.deepEqual(got.Metadata, { author: 'ada' })
    assert.equal(got.TagCount, 2)
    assert.ok(got.LastModified instanceof Date)
    // A stream body makes the SDK send aws-chunked framing with a trailing checksum.
    const { Readable } = await import('node:stream')
    const streamed = randomBytes(200_000)
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'streamed', Body: Readable.from([streamed.subarray(0, 70_000), streamed.subarray(70_000)]), ContentLength: streamed.length }))
    const back = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'streamed' }))
    assert.equal(md5(await back.Body!.transformToByteArray()), md5(streamed))
    // CRC64/NVME as the SDK sends it (a stream's trailer, a buffer's header) is taken and verified (a wrong one: bad-input.test.ts).
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'crc64-stream', Body: Readable.from([streamed]), ContentLength: streamed.length, ChecksumAlgorithm: 'CRC64NVME' }))
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'crc64-bytes', Body: streamed, ChecksumAlgorithm: 'CRC64NVME' }))
    for (const k of ['crc64-stream', 'crc64-bytes']) assert.equal(md5(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: k }))).Body!.transformToByteArray()), md5(streamed))
  })

  it('ranges, conditional requests and response overrides', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'digits', Body: '0123456789' }))
    const get = (extra: object): Promise<unknown> => s3.send(new GetObjectCommand({ Bucket: B, Key: 'digits', ...extra }))
    const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'digits', Range: 'bytes=2-4' }))
    assert.equal(await r.Body!.transformToString(), '234')
    assert.equal(r.ContentRange, 'bytes 2-4/10')
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'digits', Range: 'bytes=-3' }))).Body!.transformToString(), '789')
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'digits', Range: 'bytes=7-' }))).Body!.transformToString(), '789')
    assert.equal(await errorName(get({ Range: 'bytes=10-' })), 'InvalidRange')
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'digits' }))
    assert.equal(await errorName(get({ IfMatch: '"nope"' })), 'PreconditionFailed')
    assert.equal(await errorName(get({ IfNoneMatch: head.ETag })), '304')
    assert.equal(await errorName(get({ IfModifiedSince: new Date(Date.now() + 3600_000) })), '304')
    assert.equal(await errorName(get({ IfUnmodifiedSince: new Date(Date.now() - 3600_000) })), 'PreconditionFailed')
    const o = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'digits', IfMatch: head.ETag, ResponseContentType: 'text/x-digits', ResponseContentDisposition: 'inline' }))
    assert.equal(o.ContentType, 'text/x-digits')
    assert.equal(o.ContentDisposition, 'inline')
    assert.equal(await errorName(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'missing' }))), 'NotFound')
    assert.equal(await errorName(s3.send(new GetObjectCommand({ Bucket: B, Key: 'missing' }))), 'NoSuchKey')
  })

  it('copy with COPY and REPLACE metadata, and tagging', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'orig', Body: 'copy me', ContentType: 'text/plain', Metadata: { a: '1' } }))
    const c1 = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy1', CopySource: `${B}/orig` }))
    assert.equal(c1.CopyObjectResult!.ETag, `"${md5(Buffer.from('copy me'))}"`)
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy1' }))
    assert.deepEqual([h1.ContentType, h1.Metadata], ['text/plain', { a: '1' }])
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy2', CopySource: `/${B}/orig`, MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { b: '2' } }))
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy2' }))
    assert.deepEqual([h2.ContentType, h2.Metadata], ['text/x-new', { b: '2' }])
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'orig', CopySource: `${B}/orig` }))), 'InvalidRequest')
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c3', CopySource: `${B}/orig`, CopySourceIfMatch: '"zz"' }))), 'PreconditionFailed')
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c3', CopySource: `${B}/nothing` }))), 'NoSuchKey')
    // A conditional copy is checked against its target, as a conditional PUT is: If-None-Match: * only onto no object,
    // If-Match only onto the object with that ETag; a refused one writes nothing.
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy2', CopySource: `${B}/orig`, IfNoneMatch: '*' }))), 'PreconditionFailed')
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'copy2' }))).ContentType, 'text/x-new', 'copy2 kept')
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy2', CopySource: `${B}/orig`, IfMatch: '"0123456789abcdef0123456789abcdef"' }))), 'PreconditionFailed')
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c4', CopySource: `${B}/orig`, IfMatch: '"0123456789abcdef0123456789abcdef"' }))), 'NoSuchKey')
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c4', CopySource: `${B}/orig`, IfNoneMatch: '*' }))
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c4', CopySource: `${B}/copy2`, IfMatch: c1.CopyObjectResult!.ETag }))
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'c4' }))).ContentType, 'text/x-new', 'the second copy, whose If-Match held, went through')
    await s3.send(new PutObjectTaggingCommand({ Bucket: B, Key: 'copy1', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }, { Key: 'e', Value: '' }] } }))
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'copy1' }))).TagSet, [{ Key: 'k', Value: 'v' }, { Key: 'e', Value: '' }])
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: B, Key: 'copy1' }))
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'copy1' }))).TagSet, [])
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Key: `t${i}`, Value: 'v' }))
    assert.equal(await errorName(s3.send(new PutObjectTaggingCommand({ Bucket: B, Key: 'copy1', Tagging: { TagSet: tooMany } }))), 'InvalidTag')
  })

  it('lists v1 and v2: prefix, delimiter, paging, start-after, url encoding', async () => {
    const bucket = 'list-bucket'
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    const keys = ['a.txt', 'photos/2024/jan.jpg', 'photos/2024/feb.jpg', 'photos/2025/mar.jpg', 'photos/cover.jpg', 'z z+z.txt', 'music/x.mp3']
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))
    const top = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }))
    assert.deepEqual(top.Contents!.map(c => c.Key), ['a.txt', 'z z+z.txt'])
    assert.deepEqual(top.CommonPrefixes!.map(p => p.Prefix), ['music/', 'photos/'])
    assert.equal(top.KeyCount, 4)
    const photos = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/', Delimiter: '/' }))
    assert.deepEqual(photos.CommonPrefixes!.map(p => p.Prefix), ['photos/2024/', 'photos/2025/'])
    assert.deepEqual(photos.Contents!.map(c => c.Key), ['photos/cover.jpg'])
    // Paging one entry at a time walks objects and common prefixes alike, each once.
    const seen: string[] = []
    let token: string | undefined
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }))
      seen.push(...(page.Contents ?? []).map(c => c.Key!), ...(page.CommonPrefixes ?? []).map(p => p.Prefix!))
      token = page.NextContinuationToken
      assert.equal(page.IsTruncated, token !== undefined)
    } while (token !== undefined)
    assert.deepEqual(seen, ['a.txt', 'music/', 'photos/', 'z z+z.txt'])
    const v1seen: string[] = []
    let marker: string | undefined
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 2, Marker: marker }))
      v1seen.push(...(page.Contents ?? []).map(c => c.Key!), ...(page.CommonPrefixes ?? []).map(p => p.Prefix!))
      if (page.IsTruncated !== true) break
      marker = page.NextMarker
    }
    assert.deepEqual(v1seen.sort(), ['a.txt', 'music/', 'photos/', 'z z+z.txt'])
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'photos/2024/jan.jpg' }))
    assert.deepEqual(after.Contents!.map(c => c.Key), ['photos/2025/mar.jpg', 'photos/cover.jpg', 'z z+z.txt'])
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'z', EncodingType: 'url' }))
    assert.deepEqual(encoded.Contents!.map(c => c.Key), ['z%20z%2Bz.txt'])
    assert.equal(decodeURIComponent(encoded.Contents![0]!.Key!), 'z z+z.txt')
    const first = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }))).Contents![0]!
    assert.deepEqual([first.Key, first.Size, first.ETag], ['a.txt', 5, `"${md5(Buffer.from('a.txt'))}"`])
  })

  it('DeleteObjects, verbose and quiet', async () => {
    for (const Key of ['d1', 'd2', 'd3']) await s3.send(new PutObjectCommand({ Bucket: B, Key, Body: 'x' }))
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'd1' }, { Key: 'never-existed' }] } }))
    assert.deepEqual(verbose.Deleted!.map(d => d.Key), ['d1', 'never-existed'])
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Quiet: true, Objects: [{ Key: 'd2' }, { Key: 'd3' }] } }))
    assert.equal(quiet.Deleted, undefined)
    assert.equal(quiet.Errors, undefined)
    assert.equal(await errorName(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'd3' }))), 'NotFound')
  })

  it('a conditional CompleteMultipartUpload (If-None-Match: *) retried after it went through is answered as the first was, and one whose key another object took is refused', async () => {
    const complete = async (Key: string): Promise<{ UploadId: string, Parts: Array<{ PartNumber: number, ETag: string }> }> => {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key }))
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: B, Key, UploadId, PartNumber: 1, Body: `only part of ${Key}` }))
      return { UploadId: UploadId!, Parts: [{ PartNumber: 1, ETag: ETag! }] }
    }
    const upload = await complete('once.bin')
    const first = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'once.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: upload.Parts }, IfNoneMatch: '*' }))
    const again = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'once.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: upload.Parts }, IfNoneMatch: '*' }))
    assert.equal(again.ETag, first.ETag)
    const other = await complete('taken.bin')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'taken.bin', Body: 'got there first' }))
    assert.equal(await errorName(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'taken.bin', UploadId: other.UploadId, MultipartUpload: { Parts: other.Parts }, IfNoneMatch: '*' }))), 'PreconditionFailed')
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'taken.bin', UploadId: other.UploadId }))
    for (const Key of ['once.bin', 'taken.bin']) await s3.send(new DeleteObjectCommand({ Bucket: B, Key }))
  })

  it('multipart: 50 MiB in 5 MiB parts, UploadPartCopy, ListParts, ListMultipartUploads, abort', async () => {
    const size = 50 * 1024 * 1024
    const data = randomBytes(size)
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'big/fifty.bin', ContentType: 'application/x-big', Metadata: { m: 'p' } }))
    const partSize = 5 * 1024 * 1024
    const parts: Array<{ PartNumber: number, ETag: string }> = []
    for (let i = 0; i * partSize < size; i++) {
      const body = data.subarray(i * partSize, Math.min(size, (i + 1) * partSize))
      const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'big/fifty.bin', UploadId, PartNumber: i + 1, Body: body }))
      assert.equal(r.ETag, `"${md5(body)}"`)
      parts.push({ PartNumber: i + 1, ETag: r.ETag! })
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'big/fifty.bin', UploadId }))
    assert.deepEqual(listed.Parts!.map(p => p.PartNumber), parts.map(p => p.PartNumber))
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }))
    assert.deepEqual(uploads.Uploads!.map(u => u.UploadId), [UploadId])
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'big/fifty.bin', UploadId, MultipartUpload: { Parts: parts } }))
    const partMd5s = Buffer.concat(parts.map(p => Buffer.from(p.ETag.slice(1, -1), 'hex')))
    assert.equal(done.ETag, `"${md5(partMd5s)}-10"`)
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/fifty.bin' }))
    assert.equal(got.ContentLength, size)
    assert.equal(md5(await got.Body!.transformToByteArray()), md5(data))
    assert.equal(got.ContentType, 'application/x-big')
    // GetObjectAttributes, as SDKs ask before a download: size, ETag (unquoted, as S3 gives it), the part count.
    const attributes = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'big/fifty.bin', ObjectAttributes: ['ETag', 'ObjectParts', 'ObjectSize', 'StorageClass'] }))
    assert.deepEqual([attributes.ETag, attributes.ObjectSize, attributes.StorageClass, attributes.ObjectParts?.TotalPartsCount], [done.ETag!.slice(1, -1), size, 'STANDARD', 10])
    assert.ok(attributes.LastModified instanceof Date)
    const sizeOnly = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'streamed', ObjectAttributes: ['ObjectSize'] }))
    assert.deepEqual([sizeOnly.ObjectSize, sizeOnly.ETag, sizeOnly.ObjectParts], [200_000, undefined, undefined], 'only what was asked; no parts for a single PUT')
    assert.equal(await errorName(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'no-such-key', ObjectAttributes: ['ETag'] }))), 'NoSuchKey')

    // UploadPartCopy: build an object from ranges of the one above.
    const copy = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'big/copied.bin' }))
    const p1 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'big/copied.bin', UploadId: copy.UploadId, PartNumber: 1, CopySource: `${B}/big/fifty.bin`, CopySourceRange: `bytes=0-${partSize - 1}` }))
    const p2 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'big/copied.bin', UploadId: copy.UploadId, PartNumber: 2, CopySource: `${B}/big/fifty.bin`, CopySourceRange: 'bytes=100-199' }))
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: B, Key: 'big/copied.bin', UploadId: copy.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult!.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult!.ETag }] },
    }))
    const copied = await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/copied.bin' }))).Body!.transformToByteArray()
    assert.equal(md5(copied), md5(Buffer.concat([data.subarray(0, partSize), data.subarray(100, 200)])))

    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'big/aborted' }))
    await s3.send(new UploadPartCommand({ Bucket: B, Key: 'big/aborted', UploadId: aborted.UploadId, PartNumber: 1, Body: 'x' }))
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'big/aborted', UploadId: aborted.UploadId }))
    assert.equal(await errorName(s3.send(new ListPartsCommand({ Bucket: B, Key: 'big/aborted', UploadId: aborted.UploadId }))), 'NoSuchUpload')
    // Part copies queued when their upload was aborted (s3transfer aborts on the first error) are refused, and let their source go.
    const descriptors = async (): Promise<number> => (await readdir(`/proc/${server.child.pid}/fd`)).length
    const held = await descriptors()
    for (let i = 0; i < 40; i++) {
      assert.equal(await errorName(s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'big/aborted', UploadId: aborted.UploadId, PartNumber: 2, CopySource: `${B}/big/fifty.bin`, CopySourceRange: 'bytes=0-99' }))), 'NoSuchUpload')
    }
    assert.ok(await descriptors() < held + 20, `the node holds ${await descriptors()} descriptors after 40 refused part copies, ${held} before`)
    assert.equal(await errorName(s3.send(new CompleteMultipartUploadCommand({
      Bucket: B, Key: 'big/aborted', UploadId: aborted.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] },
    }))), 'NoSuchUpload')
  })

  it('presigned GET and PUT URLs work with plain fetch', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'shared/photo.jpg', Body: 'pixels' }))
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared/photo.jpg' }), { expiresIn: 3600 })
    const res = await fetch(getUrl)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'pixels')
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'shared/upload.txt' }), { expiresIn: 60 })
    assert.equal((await fetch(putUrl, { method: 'PUT', body: 'via presigned PUT' })).status, 200)
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'shared/upload.txt' }))).Body!.transformToString(), 'via presigned PUT')
    const week = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared/photo.jpg' }), { expiresIn: 7 * 24 * 3600 })
    assert.equal((await fetch(week)).status, 200)
  })

  it('a presigned URL\'s x-amz-* query parameters are its headers, as S3 reads them: metadata, tags and ACL kept, a copy copies; its checksums are not checked', async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'shared/described.txt', Metadata: { owner: 'Ana Lee' }, Tagging: 'team=blue', ACL: 'public-read' }), { expiresIn: 60 })
    const query = new URL(putUrl).searchParams
    assert.deepEqual([query.get('x-amz-meta-owner'), query.get('x-amz-tagging'), query.get('x-amz-acl'), query.get('x-amz-checksum-crc32')], ['Ana Lee', 'team=blue', 'public-read', 'AAAAAA=='],
      'the precondition: the SDK moved the headers into the query, with the CRC32 of an empty body')
    assert.equal((await fetch(putUrl, { method: 'PUT', body: 'described' })).status, 200)
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'shared/described.txt' }))
    assert.deepEqual([head.Metadata, head.ContentLength], [{ owner: 'Ana Lee' }, 9])
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'shared/described.txt' }))).TagSet, [{ Key: 'team', Value: 'blue' }])
    assert.equal((await fetch(`${server.url}/${B}/shared/described.txt`)).status, 200, 'public-read: anyone may read it')
    // A presigned CopyObject copies (it was a PutObject of no bytes, which emptied the destination).
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'shared/copy-target.txt', Body: 'kept until copied over' }))
    const copyUrl = await getSignedUrl(s3, new CopyObjectCommand({ Bucket: B, Key: 'shared/copy-target.txt', CopySource: `${B}/shared/described.txt` }), { expiresIn: 60 })
    const copied = await fetch(copyUrl, { method: 'PUT' })
    assert.equal(copied.status, 200)
    assert.match(await copied.text(), /<CopyObjectResult[ >]/)
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'shared/copy-target.txt' }))).Body!.transformToString(), 'described')
    // A header added to the URL by its holder is still refused: only what was signed counts.
    const added = await fetch(putUrl, { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'private' } })
    assert.equal(added.status, 403)
  })

  it('takes ACL grants that are a canned ACL (x-amz-grant-* headers, an AccessControlPolicy body) and says plainly that others are not supported', async () => {
    const Key = 'shared/granted.txt'
    const anonymous = async (): Promise<number> => (await fetch(`${server.url}/${B}/${Key}`)).status
    await s3.send(new PutObjectCommand({ Bucket: B, Key, Body: 'granted', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }))
    assert.equal(await anonymous(), 200, 'AllUsers READ by header: public-read')
    const owner = (await s3.send(new GetObjectAclCommand({ Bucket: B, Key }))).Owner!
    await s3.send(new PutObjectAclCommand({ Bucket: B, Key, AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'CanonicalUser', ID: owner.ID }, Permission: 'FULL_CONTROL' }] } }))
    assert.equal(await anonymous(), 403, 'the owner\'s grant alone: private')
    await s3.send(new PutObjectAclCommand({ Bucket: B, Key, AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'CanonicalUser', ID: owner.ID }, Permission: 'FULL_CONTROL' }, { Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] } }))
    assert.equal(await anonymous(), 200, 'AllUsers READ in the body: public-read')
    assert.equal(await errorName(s3.send(new PutObjectAclCommand({ Bucket: B, Key, AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'CanonicalUser', ID: 'someone-else' }, Permission: 'READ' }] } }))), 'NotImplemented')
    assert.equal(await errorName(s3.send(new PutObjectCommand({ Bucket: B, Key, Body: 'x', ACL: 'private', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }))), 'InvalidRequest')
    assert.equal(await anonymous(), 200, 'a refused write changes nothing')
  })

  it('reads a bucket\'s settings s3mesh cannot set as S3 answers for a bucket without them (what Terraform and mc read); setting one is NotImplemented', async () => {
    const Bucket = B
    const missing = await Promise.all([
      s3.send(new GetBucketEncryptionCommand({ Bucket })), s3.send(new GetBucketTaggingCommand({ Bucket })), s3.send(new GetBucketWebsiteCommand({ Bucket })),
      s3.send(new GetBucketReplicationCommand({ Bucket })), s3.send(new GetPublicAccessBlockCommand({ Bucket })), s3.send(new GetBucketOwnershipControlsCommand({ Bucket })),
    ].map(errorName))
    assert.deepEqual(missing, ['ServerSideEncryptionConfigurationNotFoundError', 'NoSuchTagSet', 'NoSuchWebsiteConfiguration', 'ReplicationConfigurationNotFoundError', 'NoSuchPublicAccessBlockConfiguration', 'OwnershipControlsNotFoundError'])
    assert.equal((await s3.send(new GetBucketRequestPaymentCommand({ Bucket }))).Payer, 'BucketOwner')
    assert.equal((await s3.send(new GetBucketLoggingCommand({ Bucket }))).LoggingEnabled, undefined)
    assert.equal((await s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket }))).Status, undefined)
    assert.equal((await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }))).TopicConfigurations, undefined)
    assert.equal(await errorName(s3.send(new GetBucketEncryptionCommand({ Bucket: 'no-such-bucket-here' }))), 'NoSuchBucket')
    assert.equal(await errorName(s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }))), 'NotImplemented')
  })

  it('refuses server-side encryption (SSE-S3, SSE-KMS, SSE-C) rather than storing in plain text what was to be encrypted; a customer key on a read or a copy\'s source is let be', async () => {
    const SSECustomerKey = randomBytes(32).toString('base64')
    const customer = { SSECustomerAlgorithm: 'AES256', SSECustomerKey }
    const refused = await Promise.all([
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse-s3', Body: 'secret', ServerSideEncryption: 'AES256' })),
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse-kms', Body: 'secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'k1' })),
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse-c', Body: 'secret', ...customer })),
      s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'sse-c-parts', ...customer })),
    ].map(errorName))
    assert.deepEqual(refused, ['NotImplemented', 'NotImplemented', 'NotImplemented', 'NotImplemented'])
    for (const Key of ['sse-s3', 'sse-kms', 'sse-c']) assert.equal(await errorName(s3.send(new HeadObjectCommand({ Bucket: B, Key }))), 'NotFound', `${Key}: nothing stored`)
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'sse-c-parts' }))).Uploads, undefined, 'no upload begun')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse-plain', Body: 'plain' }))
    assert.equal(await errorName(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'sse-copied', CopySource: `${B}/sse-plain`, ServerSideEncryption: 'AES256' }))), 'NotImplemented')
    assert.equal(await errorName(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'sse-copied' }))), 'NotFound')
    // An older release kept SSE-C writes in plain text: the client that wrote them reads them, and copies them out, with its key.
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'sse-plain', ...customer }))).Body!.transformToString(), 'plain')
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'sse-copied', CopySource: `${B}/sse-plain`, CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: SSECustomerKey }))
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'sse-plain' }))).Body!.transformToString(), 'plain')
  })

  it('bucket CORS: rules, preflight and response headers for browsers', async () => {
    assert.equal(await errorName(s3.send(new GetBucketCorsCommand({ Bucket: B }))), 'NoSuchCORSConfiguration')
    const preflight = (origin: string, method: string, headers = 'content-type'): Promise<Response> => fetch(`${server.url}/${B}/digits`, {
      method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    })
    assert.equal((await preflight('http://app.test', 'GET')).status, 403)
    await s3.send(new PutBucketCorsCommand({
      Bucket: B,
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['http://app.test'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 300 }] },
    }))
    const rules = (await s3.send(new GetBucketCorsCommand({ Bucket: B }))).CORSRules!
    assert.deepEqual(rules[0]!.AllowedMethods, ['GET', 'PUT'])
    const ok = await preflight('http://app.test', 'PUT')
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://app.test')
    assert.match(ok.headers.get('access-control-allow-methods')!, /PUT/)
    assert.equal(ok.headers.get('access-control-allow-headers'), 'content-type')
    assert.equal(ok.headers.get('access-control-max-age'), '300')
    assert.equal((await preflight('http://evil.test', 'GET')).status, 403)
    assert.equal((await preflight('http://app.test', 'DELETE')).status, 403)
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'digits' }))
    const actual = await fetch(url, { headers: { origin: 'http://app.test' } })
    assert.equal(actual.headers.get('access-control-allow-origin'), 'http://app.test')
    assert.equal(actual.headers.get('access-control-expose-headers'), 'ETag')
    await s3.send(new DeleteBucketCorsCommand({ Bucket: B }))
    assert.equal((await preflight('http://app.test', 'GET')).status, 403)
  })
})
