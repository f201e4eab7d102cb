/**
 * Cases real clients hit, against the real server: an empty page asked for,
 * an empty continuation token, a CompleteMultipartUpload retried after it
 * went through, user metadata that is not US-ASCII (AWS's RFC 2047 answer),
 * Expect: 100-continue answered before the body is sent, and a version id
 * named to a bucket that keeps none.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, GetObjectTaggingCommand,
  HeadObjectCommand, ListPartsCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { run } from '../helpers/cli-clients.js'
import { errorCode, sdkClient, sdkOutcome, signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const B = 'cases'

/** The status lines and header blocks in `got` (interim 1xx answers, then the final one), and whether the final answer's body is all there. */
function parseAnswers (got: string): { heads: string[], rest: string, complete: boolean } {
  const heads: string[] = []
  let rest = got
  for (;;) {
    const at = rest.indexOf('\r\n\r\n')
    if (at < 0) return { heads, rest, complete: false }
    const head = rest.slice(0, at)
    heads.push(head)
    rest = rest.slice(at + 4)
    if (!/^HTTP\/1\.1 1\d\d /.test(head)) return { heads, rest, complete: rest.length >= Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0) }
  }
}

/** A raw HTTP/1.1 exchange on one socket: the head is sent, the body only after "100 Continue" (if `sendBody`). */
async function exchange (port: number, head: string, body: Buffer, sendBody: boolean): Promise<{ heads: string[], rest: string, bodySent: boolean }> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let got = ''
    let bodySent = false
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no final answer in 10 s; got: ${got}`)) }, 10_000)
    socket.on('connect', () => { socket.write(head) })
    socket.on('error', reject)
    socket.on('data', d => {
      got += d.toString('latin1')
      const answers = parseAnswers(got)
      if (sendBody && !bodySent && answers.heads.some(h => h.startsWith('HTTP/1.1 100 '))) {
        bodySent = true
        socket.write(body)
      }
      if (answers.complete) {
        clearTimeout(timer)
        socket.destroy()
        resolve({ heads: answers.heads, rest: answers.rest, bodySent })
      }
    })
  })
}

describe('cases real clients hit', () => {
  let server: ServerProcess
  let s3: S3Client
  const sign = signer()

  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
    for (const k of ['a', 'b', 'c']) await s3.send(new PutObjectCommand({ Bucket: B, Key: `list/${k}`, Body: k }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('max-keys=0 answers an empty page that is not truncated (v1 and v2), though there are keys', async () => {
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'list/', MaxKeys: 0 }))
    assert.equal(v2.KeyCount, 0)
    assert.equal(v2.Contents, undefined)
    assert.equal(v2.IsTruncated, false, 'a paginator would loop forever on "truncated" with no token')
    assert.equal(v2.NextContinuationToken, undefined)
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: 'list/', MaxKeys: 0 }))
    assert.equal(v1.Contents, undefined)
    assert.equal(v1.IsTruncated, false)
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'list/' }))).KeyCount, 3, 'the keys are there')
  })

  it('an empty continuation token lists from the start and is echoed', async () => {
    const res = await sign.fetch(`${server.url}/${B}?list-type=2&prefix=list%2F&continuation-token=`)
    const xml = await res.text()
    assert.equal(res.status, 200, xml)
    assert.match(xml, /<ContinuationToken(?:\/>|><\/ContinuationToken>)/)
    assert.deepEqual([...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map(m => m[1]), ['list/a', 'list/b', 'list/c'])
    const bad = await sign.fetch(`${server.url}/${B}?list-type=2&continuation-token=%21%21`)
    assert.equal(bad.status, 400, 'a token that is not one is still refused')
    assert.equal(errorCode(await bad.text()), 'InvalidArgument')
  })

  it('a version id the bucket does not have is NoSuchVersion, and deleting it deletes nothing (the current object is not read or deleted in its place); null is the object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'v/k', Body: 'current' }))
    const text = async (versionId?: string): Promise<string> => await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'v/k', ...(versionId === undefined ? {} : { VersionId: versionId }) }))).Body!.transformToString()
    assert.equal(await text('null'), 'current', 'a bucket never versioned has one version, null')
    const other = '0mbg5t3kw000abcdefgh'
    assert.deepEqual([
      await sdkOutcome(s3.send(new GetObjectCommand({ Bucket: B, Key: 'v/k', VersionId: other }))),
      await sdkOutcome(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'v/k', VersionId: other }))),
      await sdkOutcome(s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'v/k', VersionId: other }))),
      await sdkOutcome(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'v/copy', CopySource: `${B}/v/k?versionId=${other}` }))),
    ], ['404 NoSuchVersion', '404 NotFound', '404 NoSuchVersion', '404 NoSuchVersion'])
    // A malformed id is refused, as S3 refuses one.
    const bad = await sign.fetch(`${server.url}/${B}/v/k?versionId=${encodeURIComponent('a b')}`)
    assert.equal(bad.status, 400)
    assert.equal(errorCode(await bad.text()), 'InvalidArgument')
    // Deleting a version that is not there deletes nothing, alone or in a batch.
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'v/k', VersionId: other }))
    assert.equal(deleted.VersionId, other)
    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'v/k', VersionId: '0mbg5t3kw000abcdefgi' }] } }))
    assert.deepEqual(batch.Deleted?.map(d => [d.Key, d.VersionId]), [['v/k', '0mbg5t3kw000abcdefgi']])
    assert.equal(await text(), 'current', 'the object is still there')
    // The null version is the object: deleting it deletes it.
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'v/k', VersionId: 'null' }))
    assert.equal(await sdkOutcome(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'v/k' }))), '404 NotFound')
  })

  it('a CompleteMultipartUpload retried after it went through answers as the first did; other parts, or the key written over since, get NoSuchUpload', async () => {
    const Key = 'retried.bin'
    const bodies = [randomBytes(5 * 1024 * 1024), randomBytes(1000)]
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key }))
    const Parts = []
    for (const [i, Body] of bodies.entries()) Parts.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket: B, Key, UploadId, PartNumber: i + 1, Body }))).ETag! })
    const first = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId, MultipartUpload: { Parts } }))
    assert.match(first.ETag!, /-2"$/)
    const again = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId, MultipartUpload: { Parts } }))
    assert.equal(again.ETag, first.ETag, 'the retry gets the first answer')
    assert.equal(again.Key, Key)
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId, MultipartUpload: { Parts: [Parts[0]!] } })), (e: { name?: string }) => e.name === 'NoSuchUpload')
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId: 'no-such-upload', MultipartUpload: { Parts: [Parts[1]!] } })), (e: { name?: string }) => e.name === 'NoSuchUpload')
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key }))).ContentLength, bodies[0]!.byteLength + bodies[1]!.byteLength)
    // Written over since: the retry must not claim the upload is what the key holds.
    await s3.send(new PutObjectCommand({ Bucket: B, Key, Body: 'newer' }))
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId, MultipartUpload: { Parts } })), (e: { name?: string }) => e.name === 'NoSuchUpload')
  })

  it('user metadata that is not US-ASCII is kept as text and returned RFC 2047 encoded, as AWS does; ASCII values as they were', async () => {
    // UTF-8 bytes as they are in the header (fetch sends a string of byte-sized characters as those bytes).
    const utf8Raw = Buffer.from('Zürich ☃', 'utf8').toString('latin1')
    const encoded = `=?UTF-8?B?${Buffer.from('Zürich ☃', 'utf8').toString('base64')}?=`
    const put = await sign.fetch(`${server.url}/${B}/meta.txt`, {
      method: 'PUT', body: 'x',
      headers: { 'x-amz-meta-raw': utf8Raw, 'x-amz-meta-words': '=?utf-8?q?caf=C3=A9_au_lait?=', 'x-amz-meta-plain': 'just ascii' },
    })
    assert.equal(put.status, 200, await put.text())
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'meta.txt' }))
    assert.equal(head.Metadata?.raw, encoded, 'UTF-8 bytes come back RFC 2047 encoded')
    assert.equal(head.Metadata?.words, `=?UTF-8?B?${Buffer.from('café au lait').toString('base64')}?=`, 'an encoded word is decoded, and comes back encoded')
    assert.equal(head.Metadata?.plain, 'just ascii')
    // boto3 sends what it is given as Latin-1 bytes (http.client); an RFC 2047 value is how Python users send other text.
    const script = `
import boto3, botocore.config
s3 = boto3.client('s3', endpoint_url='${server.url}', aws_access_key_id='${ACCESS_KEY}', aws_secret_access_key='${SECRET_KEY}', region_name='us-east-1', config=botocore.config.Config(retries={'max_attempts': 1}, s3={'addressing_style': 'path'}))
s3.put_object(Bucket='${B}', Key='boto.txt', Body=b'x', Metadata={'word': '=?UTF-8?B?${Buffer.from('naïve ☃').toString('base64')}?='})
print(s3.head_object(Bucket='${B}', Key='boto.txt')['Metadata']['word'])
`
    const out = (await run('python3', ['-c', script])).stdout
    assert.equal(out.trim(), `=?UTF-8?B?${Buffer.from('naïve ☃').toString('base64')}?=`)
    // The listing's console view and the metadata the mesh carries are the text itself.
    const sdkPut = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'sdk.txt', Body: 'x', Metadata: { word: encoded } }))
    assert.ok(sdkPut.ETag)
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'sdk.txt' }))).Metadata?.word, encoded)
  })

  it('Expect: 100-continue: a refused request is answered before the body is sent; an accepted one gets 100 Continue, then its answer', async () => {
    const body = randomBytes(100_000)
    const headOf = async (url: string): Promise<string> => {
      const req = await sign.sign(url, { method: 'PUT', headers: { 'content-length': String(body.byteLength), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', expect: '100-continue' } })
      const u = new URL(req.url)
      let head = `PUT ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\n`
      req.headers.forEach((v, k) => { if (k !== 'host') head += `${k}: ${v}\r\n` })
      return head + '\r\n'
    }
    const refused = await exchange(server.port, await headOf(`${server.url}/no-such-bucket/k`), body, false)
    assert.equal(refused.heads.length, 1, `one answer, no 100 Continue: ${refused.heads.join(' | ')}`)
    assert.match(refused.heads[0]!, /^HTTP\/1\.1 404 /)
    assert.match(refused.heads[0]!, /^connection: close$/im, 'the connection is not reused: its body never came')
    assert.match(refused.rest, /NoSuchBucket/)

    const accepted = await exchange(server.port, await headOf(`${server.url}/${B}/continued.bin`), body, true)
    assert.equal(accepted.bodySent, true, 'the body went after 100 Continue')
    assert.match(accepted.heads[0]!, /^HTTP\/1\.1 100 Continue/)
    assert.match(accepted.heads[1]!, /^HTTP\/1\.1 200 /)
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'continued.bin' }))).ContentLength, body.byteLength)

    // curl, as a shell user uploads: it waits for 100 Continue and sends nothing when refused.
    const file = join(await mkdtemp(join(tmpdir(), 's3mesh-continue-')), 'body.bin')
    await writeFile(file, body)
    const denied = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', '-H', 'Expect: 100-continue', '-T', file, `${server.url}/${B}/anonymous.bin`])).stdout
    assert.equal(denied, '403 0', 'refused (anonymous) with no byte of the body uploaded')
    await rm(dirname(file), { recursive: true, force: true })
  })

  it('a part re-sent while an earlier send of it is still arriving: the send that completes last is the part, whole', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'resent' }))
    const slow = randomBytes(6 * 1024 * 1024)
    const quick = randomBytes(6 * 1024 * 1024)
    const partUrl = `${server.url}/${B}/resent?partNumber=1&uploadId=${encodeURIComponent(UploadId!)}`
    // The first send: half its body, then a pause while the second send of the part goes through whole.
    const signed = await sign.sign(partUrl, { method: 'PUT', headers: { 'content-length': String(slow.byteLength), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    const headers = Object.fromEntries(signed.headers)
    let resume!: () => void
    let halfSent!: () => void
    const halfWritten = new Promise<void>(resolve => { halfSent = resolve })
    const paused = new Promise<void>(resolve => { resume = resolve })
    const first = new Promise<{ status: number, etag: string }>((resolve, reject) => {
      const req = httpRequest(partUrl, { method: 'PUT', headers }, res => { res.resume(); res.on('end', () => { resolve({ status: res.statusCode ?? 0, etag: String(res.headers.etag) }) }) })
      req.on('error', reject)
      req.write(slow.subarray(0, slow.byteLength / 2), () => { halfSent() })
      void paused.then(() => { req.end(slow.subarray(slow.byteLength / 2)) })
    })
    // The second send starts once the first's half is on the wire and the server has had time to take it in.
    await halfWritten
    await new Promise(resolve => setTimeout(resolve, 200))
    const second = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'resent', UploadId, PartNumber: 1, Body: quick }))
    resume()
    const firstDone = await first
    assert.equal(firstDone.status, 200)
    const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`
    assert.equal(second.ETag, md5(quick))
    assert.equal(firstDone.etag, md5(slow))
    const parts = (await s3.send(new ListPartsCommand({ Bucket: B, Key: 'resent', UploadId }))).Parts ?? []
    assert.deepEqual(parts.map(p => [p.PartNumber, p.ETag, p.Size]), [[1, md5(slow), slow.byteLength]], 'one part: the send that completed last')
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'resent', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: second.ETag! }] } })), (e: { name: string }) => e.name === 'InvalidPart')
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'resent', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: firstDone.etag }] } }))
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'resent' }))).Body!.transformToByteArray())
    assert.ok(got.equals(slow), 'the object is that send\'s bytes, whole')
  })
})
