/** The Web-standard handler on its own (no HTTP server): behaviour every adapter inherits. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { s3Signer } from '../../src/core/s3-signer.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { S3Error, UNREACHABLE } from '../../src/core/errors.js'
import { createS3Handler } from '../../src/s3-shim/index.js'
import { requestWithBlob } from '../../src/s3-shim/blob-bodies.js'
import type { PutOptions } from '../../src/core/object-store.js'

const sign = s3Signer({ accessKeyId: 'AK', secretAccessKey: 'SECRET-KEY' })

async function setup (options: { virtualHostDomains?: string[], basePath?: string, noLocks?: boolean } = {}): Promise<(r: Request) => Promise<Response>> {
  const { noLocks, ...handlerOptions } = options
  const store = new MemoryStore()
  // A store that keeps no object lock (as a mesh member's, for now).
  if (noLocks === true) Object.assign(store, { setBucketObjectLock: undefined, setObjectLock: undefined })
  await store.createBucket('photos')
  const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined }, ...handlerOptions })
  return async r => await h(r)
}

describe('S3 handler', () => {
  it('serves virtual-hosted-style requests', async () => {
    const h = await setup({ virtualHostDomains: ['localhost'] })
    const put = await h(await sign.sign('http://photos.localhost:9000/cat.jpg', { method: 'PUT', body: 'meow' }))
    assert.equal(put.status, 200, await put.clone().text())
    const get = await h(await sign.sign('http://photos.localhost:9000/cat.jpg'))
    assert.equal(await get.text(), 'meow')
    const list = await h(await sign.sign('http://photos.localhost:9000/?list-type=2'))
    assert.match(await list.text(), /<Key>cat\.jpg<\/Key>/)
  })

  it('serves under a base path (as a service worker does at /s3)', async () => {
    const h = await setup({ basePath: '/s3' })
    assert.equal((await h(await sign.sign('http://app.test/s3/photos/a.txt', { method: 'PUT', body: 'x' }))).status, 200)
    assert.equal(await (await h(await sign.sign('http://app.test/s3/photos/a.txt'))).text(), 'x')
    const outside = await h(await sign.sign('http://app.test/other/photos/a.txt'))
    assert.equal(outside.status, 400)
  })

  it('passes a PUT\'s Blob body to the store when nothing is to be checked as it streams, and refuses one over 5 GiB', async () => {
    const given: Array<Blob | undefined> = []
    const store = new MemoryStore()
    const put = store.putObject.bind(store)
    store.putObject = async (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions) => { given.push(options.blob); return await put(bucket, key, body, options) }
    await store.createBucket('photos')
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined }, unsignedAs: () => ({ kind: 'root', accessKeyId: 'AK' }) })
    const blob = new Blob(['meow'])
    assert.equal((await h(requestWithBlob('http://localhost/photos/a.txt', { method: 'PUT' }, blob))).status, 200)
    assert.equal(given[0], blob, 'the Blob itself')
    // A Content-MD5 is checked as the bytes stream: the store reads the stream, not the Blob.
    const md5 = 'SkvkDJasYxTpHZPzgEOmNA=='
    assert.equal((await h(requestWithBlob('http://localhost/photos/b.txt', { method: 'PUT', headers: { 'content-md5': md5 } }, new Blob(['meow'])))).status, 200)
    assert.equal(given[1], undefined)
    const bad = await h(requestWithBlob('http://localhost/photos/b.txt', { method: 'PUT', headers: { 'content-md5': md5 } }, new Blob(['woof'])))
    assert.equal(bad.status, 400)
    assert.equal(await (await h(await sign.sign('http://localhost/photos/b.txt'))).text(), 'meow', 'the bad write changed nothing')
    // No declared size, and a Blob larger than a PUT may be: refused before the store sees it.
    const huge = new Blob(['x'])
    Object.defineProperty(huge, 'size', { value: 6 * 1024 ** 3 })
    const refused = await h(requestWithBlob('http://localhost/photos/c.txt', { method: 'PUT' }, huge))
    assert.equal(refused.status, 400)
    assert.match(await refused.text(), /EntityTooLarge/)
    assert.equal(given.length, 3)
  })

  it('puts x-amz-request-id on every response, and HEAD errors have no body', async () => {
    const h = await setup()
    const ok = await h(await sign.sign('http://localhost/'))
    assert.match(ok.headers.get('x-amz-request-id') ?? '', /^[0-9A-F]{16}$/)
    const missing = await h(await sign.sign('http://localhost/photos/nope', { method: 'HEAD' }))
    assert.equal(missing.status, 404)
    assert.equal(await missing.text(), '')
    assert.ok(missing.headers.get('x-amz-request-id'))
    const anon = await h(new Request('http://localhost/photos/nope'))
    assert.equal(anon.status, 403)
    assert.match(await anon.text(), /<RequestId>[0-9A-F]{16}<\/RequestId>/)
    assert.notEqual(ok.headers.get('x-amz-request-id'), missing.headers.get('x-amz-request-id'))
  })

  it('refuses object lock where the store keeps none, rather than storing unlocked: a bucket created with it, a write that asks for a retention or a legal hold', async () => {
    const h = await setup({ noLocks: true })
    const bucket = await h(await sign.sign('http://localhost/vault', { method: 'PUT', headers: { 'x-amz-bucket-object-lock-enabled': 'true' } }))
    assert.equal(bucket.status, 501)
    assert.match(await bucket.text(), /<Code>NotImplemented<\/Code>/)
    assert.equal((await h(await sign.sign('http://localhost/vault', { method: 'HEAD' }))).status, 404, 'no bucket was made')
    const locked = { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2099-01-01T00:00:00Z' }
    for (const [what, init] of [['PutObject', { method: 'PUT', body: 'x', headers: locked }], ['a legal hold', { method: 'PUT', body: 'x', headers: { 'x-amz-object-lock-legal-hold': 'ON' } }], ['CreateMultipartUpload', { method: 'POST', headers: locked }]] as const) {
      const res = await h(await sign.sign(`http://localhost/photos/locked${what === 'CreateMultipartUpload' ? '?uploads' : ''}`, init))
      assert.equal(res.status, 400, what)
      assert.match(await res.text(), /<Code>InvalidRequest<\/Code><Message>Bucket is missing ObjectLockConfiguration<\/Message>/, what)
    }
    assert.equal((await h(await sign.sign('http://localhost/photos/locked', { method: 'HEAD' }))).status, 404, 'nothing was stored')
    const copy = await h(await sign.sign('http://localhost/photos/copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/nothing', 'x-amz-object-lock-legal-hold': 'ON' } }))
    assert.equal(copy.status, 400)
    // A store that keeps it: the bucket is made, with versioning on and the lock answered.
    const keeps = await setup()
    assert.equal((await keeps(await sign.sign('http://localhost/vault', { method: 'PUT', headers: { 'x-amz-bucket-object-lock-enabled': 'true' } }))).status, 200)
    assert.match(await (await keeps(await sign.sign('http://localhost/vault?object-lock'))).text(), /<ObjectLockEnabled>Enabled<\/ObjectLockEnabled>/)
    assert.match(await (await keeps(await sign.sign('http://localhost/vault?versioning'))).text(), /<Status>Enabled<\/Status>/)
  })

  it('answers 304 with ETag and Last-Modified and no body', async () => {
    const h = await setup()
    const put = await h(await sign.sign('http://localhost/photos/k', { method: 'PUT', body: 'v' }))
    const etag = put.headers.get('etag')!
    const res = await h(await sign.sign('http://localhost/photos/k', { headers: { 'if-none-match': etag } }))
    assert.equal(res.status, 304)
    assert.equal(res.headers.get('etag'), etag)
    assert.ok(res.headers.get('last-modified'))
    assert.equal(await res.text(), '')
  })

  it('gives an object\'s time in listings, a copy\'s answer and the bucket list to the second, as S3 does: the time HEAD gives', async () => {
    const store = new MemoryStore()
    await store.createBucket('photos')
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    // Stored with milliseconds (written again in the one case in a thousand without): the precondition for the cut to show.
    do await h(await sign.sign('http://localhost/photos/timed', { method: 'PUT', body: 'v' }))
    while ((await store.headObject('photos', 'timed')).lastModified.getMilliseconds() === 0)
    const head = Date.parse((await h(await sign.sign('http://localhost/photos/timed', { method: 'HEAD' }))).headers.get('last-modified')!)
    const xmlTimes = async (url: string, init: RequestInit = {}): Promise<string[]> => [...(await (await h(await sign.sign(url, init))).text()).matchAll(/<(?:LastModified|CreationDate)>([^<]+)</g)].map(m => m[1]!)
    const listed = await xmlTimes('http://localhost/photos?list-type=2&prefix=timed')
    const v1 = await xmlTimes('http://localhost/photos?prefix=timed')
    const copied = await xmlTimes('http://localhost/photos/timed-copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/timed' } })
    const buckets = await xmlTimes('http://localhost/')
    for (const t of [...listed, ...v1, ...copied, ...buckets]) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
    assert.deepEqual([listed.length, v1.length, copied.length, buckets.length], [1, 1, 1, 1])
    assert.equal(Date.parse(listed[0]!), head)
    assert.equal(Date.parse(v1[0]!), head)
  })

  it('checks a conditional copy against its target, as a conditional PUT: If-None-Match: * onto no object, If-Match onto that ETag; a refused one writes nothing', async () => {
    const h = await setup()
    const put = async (key: string, body: string): Promise<string> => (await h(await sign.sign(`http://localhost/photos/${key}`, { method: 'PUT', body }))).headers.get('etag')!
    const copy = async (key: string, headers: Record<string, string>): Promise<Response> => await h(await sign.sign(`http://localhost/photos/${key}`, { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/src', ...headers } }))
    const body = async (key: string): Promise<string> => await (await h(await sign.sign(`http://localhost/photos/${key}`))).text()
    await put('src', 'source')
    const taken = await put('taken', 'kept')
    assert.equal((await copy('taken', { 'if-none-match': '*' })).status, 412)
    assert.equal((await copy('taken', { 'if-match': '"0123456789abcdef0123456789abcdef"' })).status, 412)
    assert.equal(await body('taken'), 'kept', 'nothing written')
    assert.equal((await copy('free', { 'if-match': taken })).status, 404, 'If-Match onto no object')
    assert.equal((await copy('free', { 'if-none-match': '*' })).status, 200)
    assert.equal((await copy('taken', { 'if-match': taken })).status, 200)
    assert.deepEqual([await body('free'), await body('taken')], ['source', 'source'])
    assert.equal((await copy('other', { 'if-none-match': '"abc"' })).status, 501, 'If-None-Match on a write takes only *')
  })

  it('answers a HeadBucket it refuses with the region, as S3 does (how SDKs find a bucket\'s region)', async () => {
    const h = await setup()
    const refused = await h(new Request('http://localhost/photos', { method: 'HEAD' }))
    assert.deepEqual([refused.status, refused.headers.get('x-amz-bucket-region')], [403, 'us-east-1'])
    const refusedGet = await h(new Request('http://localhost/photos'))
    assert.deepEqual([refusedGet.status, refusedGet.headers.get('x-amz-bucket-region')], [403, null], 'on HeadBucket only')
    const head = await h(await sign.sign('http://localhost/photos', { method: 'HEAD' }))
    assert.deepEqual([head.status, head.headers.get('x-amz-bucket-region')], [200, 'us-east-1'])
  })

  it('adds CORS headers to error responses for allowed origins, so browsers can read them', async () => {
    const h = await setup()
    const cors = '<CORSConfiguration><CORSRule><AllowedOrigin>http://app.test</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'
    assert.equal((await h(await sign.sign('http://localhost/photos?cors', { method: 'PUT', body: cors }))).status, 200)
    const err = await h(await sign.sign('http://localhost/photos/missing', { headers: { origin: 'http://app.test' } }))
    assert.equal(err.status, 404)
    assert.equal(err.headers.get('access-control-allow-origin'), 'http://app.test')
    const other = await h(await sign.sign('http://localhost/photos/missing', { headers: { origin: 'http://evil.test' } }))
    assert.equal(other.headers.get('access-control-allow-origin'), null)
  })

  it('writes a key\'s CR as a character reference in XML (a raw one reads back as LF), listings and errors alike', async () => {
    const h = await setup()
    for (const key of ['cr\rkey', 'bell\u0007key', 'tab\tkey']) {
      const put = await h(await sign.sign(`http://localhost/photos/${encodeURIComponent(key)}`, { method: 'PUT', body: 'x' }))
      assert.equal(put.status, 200)
    }
    const list = await (await h(await sign.sign('http://localhost/photos?list-type=2'))).text()
    assert.match(list, /<Key>cr&#13;key<\/Key>/)
    assert.match(list, /<Key>bell\u0007key<\/Key>/, 'another control character as it is (the AWS SDKs\' parser keeps it, and drops a reference to it)')
    assert.match(list, /<Key>tab\tkey<\/Key>/)
    assert.doesNotMatch(list, /\r/)
    const missing = await (await h(await sign.sign(`http://localhost/photos/${encodeURIComponent('no\rsuch')}`))).text()
    assert.match(missing, /<Key>no&#13;such<\/Key>/)
  })

  it('refuses a copy of an object onto itself that changes nothing, and takes one that asks for a storage class or a redirect (how tools rewrite an object in place)', async () => {
    const h = await setup()
    assert.equal((await h(await sign.sign('http://localhost/photos/r', { method: 'PUT', body: 'kept', headers: { 'x-amz-meta-who': 'ann' } }))).status, 200)
    const same = await h(await sign.sign('http://localhost/photos/r', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/r' } }))
    assert.equal(same.status, 400)
    assert.match(await same.text(), /<Code>InvalidRequest<\/Code>/)
    for (const headers of [{ 'x-amz-storage-class': 'STANDARD_IA' }, { 'x-amz-website-redirect-location': '/elsewhere' }] as Array<Record<string, string>>) {
      const copy = await h(await sign.sign('http://localhost/photos/r', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/r', ...headers } }))
      assert.equal(copy.status, 200, await copy.text())
    }
    const got = await h(await sign.sign('http://localhost/photos/r'))
    assert.equal(await got.text(), 'kept')
    assert.equal(got.headers.get('x-amz-meta-who'), 'ann', 'its metadata copied with it')
  })

  it('refuses server-side encryption rather than storing in plain text what was to be encrypted: writes and parts NotImplemented, x-amz-server-side-encryption on a read InvalidArgument; a customer key on a read is let be (objects an older release stored)', async () => {
    const h = await setup()
    assert.equal((await h(await sign.sign('http://localhost/photos/plain', { method: 'PUT', body: 'plain' }))).status, 200)
    const customerKey = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': btoa('k'.repeat(32)),
      'x-amz-server-side-encryption-customer-key-md5': 'AAAAAAAAAAAAAAAAAAAAAA==',
    }
    const upload = /<UploadId>([^<]+)<\/UploadId>/.exec(await (await h(await sign.sign('http://localhost/photos/parts?uploads', { method: 'POST' }))).text())![1]!
    const writes: Array<[string, RequestInit]> = [
      ['http://localhost/photos/sse-s3', { method: 'PUT', body: 'secret', headers: { 'x-amz-server-side-encryption': 'AES256' } }],
      ['http://localhost/photos/sse-kms', { method: 'PUT', body: 'secret', headers: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'k1' } }],
      ['http://localhost/photos/sse-c', { method: 'PUT', body: 'secret', headers: customerKey }],
      ['http://localhost/photos/sse-copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/plain', 'x-amz-server-side-encryption': 'AES256' } }],
      ['http://localhost/photos/plain', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/plain', ...customerKey } }],
      ['http://localhost/photos/sse-mpu?uploads', { method: 'POST', headers: customerKey }],
      [`http://localhost/photos/parts?partNumber=1&uploadId=${upload}`, { method: 'PUT', body: 'secret', headers: customerKey }],
    ]
    for (const [url, init] of writes) {
      const res = await h(await sign.sign(url, init))
      assert.equal(res.status, 501, url)
      assert.match(await res.text(), /<Code>NotImplemented<\/Code>.*does not encrypt/s)
    }
    for (const key of ['sse-s3', 'sse-kms', 'sse-c', 'sse-copy']) assert.equal((await h(await sign.sign(`http://localhost/photos/${key}`))).status, 404, `${key}: nothing stored`)
    assert.doesNotMatch(await (await h(await sign.sign(`http://localhost/photos/parts?uploadId=${upload}`))).text(), /<Part>/, 'no part stored')
    assert.match(await (await h(await sign.sign('http://localhost/photos?uploads'))).text(), /<Key>parts<\/Key>(?:(?!<Upload>).)*$/s, 'no upload begun but the plain one')
    for (const method of ['GET', 'HEAD']) {
      const sse = await h(await sign.sign('http://localhost/photos/plain', { method, headers: { 'x-amz-server-side-encryption': 'AES256' } }))
      assert.equal(sse.status, 400, method)
      if (method === 'GET') assert.match(await sse.text(), /<Code>InvalidArgument<\/Code>/)
    }
    // What an older release stored from an SSE-C write (in plain text) is read, and copied out, by the client that sends its key.
    const keyed = await h(await sign.sign('http://localhost/photos/plain', { headers: customerKey }))
    assert.equal(await keyed.text(), 'plain')
    const copied = await h(await sign.sign('http://localhost/photos/copied', {
      method: 'PUT',
      headers: { 'x-amz-copy-source': '/photos/plain', 'x-amz-copy-source-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-copy-source-server-side-encryption-customer-key': btoa('k'.repeat(32)) },
    }))
    assert.equal(copied.status, 200)
    assert.equal(await (await h(await sign.sign('http://localhost/photos/copied'))).text(), 'plain')
  })

  it('ListObjectsV2 pages on past a common prefix when each page sends StartAfter inside it again, as paginators send it', async () => {
    const h = await setup()
    for (const key of ['photos/2020/a', 'photos/2020/b', 'photos/2021/x', 'photos/z']) assert.equal((await h(await sign.sign(`http://localhost/photos/${key}`, { method: 'PUT', body: key }))).status, 200)
    const seen: string[] = []
    let token: string | undefined
    for (let page = 0; page < 6; page++) {
      const query = `list-type=2&prefix=photos%2F&delimiter=%2F&max-keys=1&start-after=${encodeURIComponent('photos/2020/a')}${token === undefined ? '' : `&continuation-token=${encodeURIComponent(token)}`}`
      const xml = await (await h(await sign.sign(`http://localhost/photos?${query}`))).text()
      seen.push(...[...xml.matchAll(/<(?:Key|Prefix)>(photos\/[^<]+)<\/(?:Key|Prefix)>/g)].map(m => m[1]!))
      token = /<NextContinuationToken>([^<]+)</.exec(xml)?.[1]
      if (token === undefined) break
    }
    assert.deepEqual(seen, ['photos/2020/', 'photos/2021/', 'photos/z'])
  })

  it('a copy (CopyObject, UploadPartCopy) the store refuses before reading lets its source go: the body cancelled, the handle closed', async () => {
    const store = new MemoryStore()
    await store.createBucket('photos')
    await store.putObject('photos', 'src', new Blob(['source bytes']).stream(), { metadata: { user: {} } })
    // As a mesh member's handle of a fetch from a holder: once its stream is taken, close() leaves the stream to its reader.
    const released: string[] = []
    const open = store.openObject.bind(store)
    store.openObject = async (bucket, key, options) => {
      const handle = await open(bucket, key, options)
      let taken = false
      return {
        info: handle.info,
        stream: () => { taken = true; return new ReadableStream<Uint8Array>({ pull: () => {}, cancel: () => { released.push('cancelled') } }, { highWaterMark: 0 }) },
        close: async () => { if (!taken) released.push('closed') },
      }
    }
    store.putObject = async () => { throw new S3Error('ServiceUnavailable', 'refused before reading') }
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    assert.equal((await h(await sign.sign('http://localhost/photos/copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/src' } }))).status, 503)
    assert.deepEqual(released, ['cancelled'], 'CopyObject')
    released.length = 0
    const part = await h(await sign.sign('http://localhost/photos/dst?partNumber=1&uploadId=no-such-upload', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/src' } }))
    assert.equal(part.status, 404)
    assert.deepEqual(released, ['cancelled'], 'UploadPartCopy')
  })

  it('UploadPartCopy answers which version of its source it copied (x-amz-copy-source-version-id), as CopyObject does', async () => {
    const h = await setup()
    assert.equal((await h(await sign.sign('http://localhost/photos?versioning', { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' }))).status, 200)
    const v1 = (await h(await sign.sign('http://localhost/photos/src', { method: 'PUT', body: 'one' }))).headers.get('x-amz-version-id')!
    const v2 = (await h(await sign.sign('http://localhost/photos/src', { method: 'PUT', body: 'two' }))).headers.get('x-amz-version-id')!
    assert.ok(v1 !== null && v2 !== null && v1 !== v2, 'the precondition: two versions')
    const upload = /<UploadId>([^<]+)<\/UploadId>/.exec(await (await h(await sign.sign('http://localhost/photos/dst?uploads', { method: 'POST' }))).text())![1]!
    const copyPart = async (n: number, source: string): Promise<Response> => await h(await sign.sign(`http://localhost/photos/dst?partNumber=${n}&uploadId=${upload}`, { method: 'PUT', headers: { 'x-amz-copy-source': source } }))
    const named = await copyPart(1, `/photos/src?versionId=${v1}`)
    assert.equal(named.status, 200)
    assert.equal(named.headers.get('x-amz-copy-source-version-id'), v1)
    assert.equal((await copyPart(2, '/photos/src')).headers.get('x-amz-copy-source-version-id'), v2, 'the current version, when none is named')
  })

  it('refuses a request whose x-amz-expected-bucket-owner (or a copy\'s x-amz-source-expected-bucket-owner) is another account, and takes the owner\'s', async () => {
    const h = await setup()
    const owner = { 'x-amz-expected-bucket-owner': '000000000000' }
    assert.equal((await h(await sign.sign('http://localhost/photos/owned', { method: 'PUT', body: 'mine', headers: owner }))).status, 200)
    const other = await h(await sign.sign('http://localhost/photos/owned', { method: 'PUT', body: 'theirs', headers: { 'x-amz-expected-bucket-owner': '111122223333' } }))
    assert.equal(other.status, 403)
    assert.match(await other.text(), /<Code>AccessDenied<\/Code>.*111122223333/s)
    assert.equal((await h(await sign.sign('http://localhost/photos/owned', { headers: { 'x-amz-expected-bucket-owner': '111122223333' } }))).status, 403, 'a read too')
    const copy = await h(await sign.sign('http://localhost/photos/copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/owned', ...owner, 'x-amz-source-expected-bucket-owner': '111122223333' } }))
    assert.equal(copy.status, 403)
    assert.equal((await h(await sign.sign('http://localhost/photos/copy'))).status, 404, 'no copy made')
    assert.equal(await (await h(await sign.sign('http://localhost/photos/owned', { headers: owner }))).text(), 'mine')
  })

  it('refuses user metadata over 2 KB with MetadataTooLarge, as S3 does', async () => {
    const h = await setup()
    const res = await h(await sign.sign('http://localhost/photos/meta', { method: 'PUT', body: 'x', headers: { 'x-amz-meta-a': 'a'.repeat(2100) } }))
    assert.equal(res.status, 400)
    assert.match(await res.text(), /<Code>MetadataTooLarge<\/Code>/)
    assert.equal((await h(await sign.sign('http://localhost/photos/meta'))).status, 404, 'nothing kept')
  })

  it('answers an object\'s Content-Encoding as x-s3mesh-content-encoding to a header-signed reader that asks (x-s3mesh-raw-body), varying on it; to no other', async () => {
    const h = await setup()
    assert.equal((await h(await sign.sign('http://localhost/photos/page.html', { method: 'PUT', body: 'gz', headers: { 'content-encoding': 'gzip' } }))).status, 200)
    for (const method of ['GET', 'HEAD']) {
      const raw = await h(await sign.sign('http://localhost/photos/page.html', { method, headers: { 'x-s3mesh-raw-body': '1' } }))
      assert.deepEqual([raw.headers.get('content-encoding'), raw.headers.get('x-s3mesh-content-encoding'), raw.headers.get('vary')], [null, 'gzip', 'x-s3mesh-raw-body'], method)
    }
    const plain = await h(await sign.sign('http://localhost/photos/page.html'))
    assert.deepEqual([plain.headers.get('content-encoding'), plain.headers.get('x-s3mesh-content-encoding'), plain.headers.get('vary')], ['gzip', null, 'x-s3mesh-raw-body'], 'the other answer varies on it too')
    const presigned = await h(await sign.sign('http://localhost/photos/page.html', { headers: { 'x-s3mesh-raw-body': '1' }, aws: { signQuery: true } }))
    assert.equal(presigned.status, 200)
    assert.equal(presigned.headers.get('content-encoding'), 'gzip', 'a URL anyone holding it may send (and a cache may keep) is answered as to any client')
  })

  it('DeleteObjects answers the keys after one for which no node could be reached so too, without waiting for each; one key\'s own ServiceUnavailable leaves the others tried', async () => {
    const store = new MemoryStore()
    await store.createBucket('photos')
    for (const key of ['a', 'b', 'c']) await store.putObject('photos', key, new Blob([key]).stream(), { metadata: { user: {} } })
    const deleteOne = store.deleteObject.bind(store)
    let tried = 0
    let unreachable = true
    store.deleteObject = async (bucket, key, options) => {
      tried++
      if (unreachable) throw new S3Error('ServiceUnavailable', 'no mesh node answered', { cause: UNREACHABLE })
      if (key === 'a') throw new S3Error('ServiceUnavailable', 'a change to photos/a is half-way')
      return await deleteOne(bucket, key, options)
    }
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    const body = '<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>c</Key></Object></Delete>'
    const res = await h(await sign.sign('http://localhost/photos?delete', { method: 'POST', body }))
    const xml = await res.text()
    assert.equal(res.status, 200, xml)
    assert.equal([...xml.matchAll(/<Error><Key>[abc]<\/Key><Code>ServiceUnavailable<\/Code>/g)].length, 3)
    assert.equal(tried, 1, 'the store was asked once')
    unreachable = false
    const again = await (await h(await sign.sign('http://localhost/photos?delete', { method: 'POST', body }))).text()
    assert.match(again, /<Error><Key>a<\/Key><Code>ServiceUnavailable<\/Code>/)
    assert.deepEqual([...again.matchAll(/<Deleted><Key>([^<]+)<\/Key>/g)].map(m => m[1]), ['b', 'c'], 'one key\'s trouble is its own')
  })

  it('DeleteObjects reports a key it cannot delete (a NotImplemented condition, a 5xx of the store) in its Errors, and deletes the others', async () => {
    const h = await setup()
    for (const key of ['x', 'y', 'z']) assert.equal((await h(await sign.sign(`http://localhost/photos/${key}`, { method: 'PUT', body: key }))).status, 200)
    const body = '<Delete><Object><Key>x</Key></Object><Object><Key>y</Key><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime></Object><Object><Key>z</Key></Object></Delete>'
    const res = await h(await sign.sign('http://localhost/photos?delete', { method: 'POST', body }))
    const xml = await res.text()
    assert.equal(res.status, 200, xml)
    assert.deepEqual([...xml.matchAll(/<Deleted><Key>([^<]+)<\/Key>/g)].map(m => m[1]), ['x', 'z'])
    assert.match(xml, /<Error><Key>y<\/Key><Code>NotImplemented<\/Code>/)
    assert.deepEqual(await Promise.all(['x', 'y', 'z'].map(async k => (await h(await sign.sign(`http://localhost/photos/${k}`))).status)), [404, 200, 404])
  })

  it('deletes only on a matching If-Match (an ETag, or *), in DeleteObject and as an ETag in DeleteObjects; a refused one deletes nothing', async () => {
    const h = await setup()
    const etags: Record<string, string> = {}
    for (const key of ['a', 'b', 'c', 'd']) {
      const put = await h(await sign.sign(`http://localhost/photos/${key}`, { method: 'PUT', body: key }))
      assert.equal(put.status, 200)
      etags[key] = put.headers.get('etag')!
    }
    const stale = '"00000000000000000000000000000000"'
    const refused = await h(await sign.sign('http://localhost/photos/a', { method: 'DELETE', headers: { 'if-match': stale } }))
    assert.equal(refused.status, 412)
    assert.match(await refused.text(), /<Code>PreconditionFailed<\/Code>/)
    assert.equal((await h(await sign.sign('http://localhost/photos/a'))).status, 200, 'the refused one is still there')
    const missing = await h(await sign.sign('http://localhost/photos/none', { method: 'DELETE', headers: { 'if-match': '*' } }))
    assert.equal(missing.status, 404)
    assert.match(await missing.text(), /<Code>NoSuchKey<\/Code>/)
    assert.equal((await h(await sign.sign('http://localhost/photos/a', { method: 'DELETE', headers: { 'if-match': etags.a! } }))).status, 204)
    assert.equal((await h(await sign.sign('http://localhost/photos/a'))).status, 404, 'the matching one is deleted')
    // Not taken, and nothing deleted: a list of ETags, a version named, S3's directory-bucket conditions.
    for (const [headers, query, code] of [
      [{ 'if-match': `${etags.b!}, ${stale}` }, '', 'InvalidArgument'],
      [{ 'if-match': etags.b! }, '?versionId=null', 'NotImplemented'],
      [{ 'x-amz-if-match-size': '1' }, '', 'NotImplemented'],
      [{ 'x-amz-if-match-last-modified-time': new Date().toUTCString() }, '', 'NotImplemented'],
    ] as const) {
      const res = await h(await sign.sign(`http://localhost/photos/b${query}`, { method: 'DELETE', headers }))
      assert.match(await res.text(), new RegExp(`<Code>${code}</Code>`), JSON.stringify(headers))
    }
    assert.equal((await h(await sign.sign('http://localhost/photos/b'))).status, 200, 'b is still there')
    const body = `<Delete><Object><Key>b</Key><ETag>${stale}</ETag></Object><Object><Key>c</Key><ETag>${etags.c!}</ETag></Object><Object><Key>d</Key><ETag>*</ETag></Object><Object><Key>none</Key><ETag>*</ETag></Object></Delete>`
    const batch = await (await h(await sign.sign('http://localhost/photos?delete', { method: 'POST', body }))).text()
    assert.match(batch, /<Error><Key>b<\/Key><Code>PreconditionFailed<\/Code>/)
    assert.match(batch, /<Deleted><Key>c<\/Key><\/Deleted>/)
    assert.match(batch, /<Deleted><Key>d<\/Key><\/Deleted>/)
    assert.match(batch, /<Error><Key>none<\/Key><Code>NoSuchKey<\/Code>/)
    assert.deepEqual(await Promise.all(['b', 'c', 'd'].map(async k => (await h(await sign.sign(`http://localhost/photos/${k}`))).status)), [200, 404, 404])
  })

  it('refuses a copy of more than 5 GiB, whole (CopyObject) or as a part, as S3 does; a part copied from a range of it is taken', async () => {
    const store = new MemoryStore()
    await store.createBucket('photos')
    await store.putObject('photos', 'huge', new Blob(['small bytes']).stream(), { metadata: { user: {} } })
    // The store says the object is 6 GiB: what is checked is the size it reports, before a byte is read.
    const openObject = store.openObject.bind(store)
    store.openObject = async (bucket, key, options) => {
      const h = await openObject(bucket, key, options)
      return key === 'huge' ? { ...h, info: { ...h.info, size: 6 * 1024 ** 3 } } : h
    }
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    const copy = await h(await sign.sign('http://localhost/photos/copy', { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/huge' } }))
    assert.equal(copy.status, 400)
    assert.match(await copy.text(), /<Code>InvalidRequest<\/Code><Message>The specified copy source is larger than the maximum allowable size for a copy source: 5368709120/)
    assert.equal((await h(await sign.sign('http://localhost/photos/copy', { method: 'HEAD' }))).status, 404, 'nothing written')
    const created = await h(await sign.sign('http://localhost/photos/big?uploads', { method: 'POST' }))
    const uploadId = /<UploadId>([^<]+)/.exec(await created.text())![1]!
    const part = async (range?: string): Promise<Response> => await h(await sign.sign(`http://localhost/photos/big?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', headers: { 'x-amz-copy-source': '/photos/huge', ...(range === undefined ? {} : { 'x-amz-copy-source-range': range }) } }))
    for (const range of [undefined, `bytes=0-${5 * 1024 ** 3}`]) {
      const refused = await part(range)
      assert.equal(refused.status, 400, String(range))
      assert.match(await refused.text(), /<Code>InvalidRequest<\/Code>/)
    }
    assert.equal((await part('bytes=0-4')).status, 200, 'a range within 5 GiB')
    // As S3: past the source's end (or backwards) is 400 InvalidArgument with the source's size, as is a range not of the form.
    for (const [range, message] of [[`bytes=0-${6 * 1024 ** 3}`, /Range specified is not valid for source object of size: 6442450944/], ['bytes=9-5', /not valid for source object/], ['0-4', /must be of the form bytes=first-last/]] as const) {
      const refused = await part(range)
      const xml = await refused.text()
      assert.deepEqual([refused.status, /<Code>([^<]+)/.exec(xml)?.[1]], [400, 'InvalidArgument'], range)
      assert.match(xml, message)
      assert.match(xml, new RegExp(`<ArgumentName>x-amz-copy-source-range</ArgumentName><ArgumentValue>${range}</ArgumentValue>`))
    }
  })

  it('renders S3 XML errors with Code, Message, Resource and RequestId', async () => {
    const h = await setup()
    const res = await h(await sign.sign('http://localhost/photos/missing-key'))
    assert.equal(res.headers.get('content-type'), 'application/xml')
    const xml = await res.text()
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code><Message>The specified key does not exist.<\/Message><Key>missing-key<\/Key><Resource>missing-key<\/Resource><RequestId>/)
  })
  it('serves a store that keeps versions: version ids, a delete marker\'s 404 and 405, deletes by version (alone and in a batch)', async () => {
    const store = new MemoryStore()
    await store.createBucket('vers')
    await store.setBucketVersioning('vers', 'Enabled')
    const h = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    const url = 'http://localhost/vers/k'
    const v1 = (await h(await sign.sign(url, { method: 'PUT', body: 'one' }))).headers.get('x-amz-version-id')!
    const v2 = (await h(await sign.sign(url, { method: 'PUT', body: 'two' }))).headers.get('x-amz-version-id')!
    assert.ok(v1 !== null && v2 !== null && v1 !== v2)
    const old = await h(await sign.sign(`${url}?versionId=${v1}`))
    assert.deepEqual([old.status, await old.text(), old.headers.get('x-amz-version-id')], [200, 'one', v1])
    // A delete without a version leaves a marker: the key answers 404 with it, the marker's id 405.
    const del = await h(await sign.sign(url, { method: 'DELETE' }))
    const marker = del.headers.get('x-amz-version-id')!
    assert.deepEqual([del.status, del.headers.get('x-amz-delete-marker')], [204, 'true'])
    const gone = await h(await sign.sign(url))
    assert.deepEqual([gone.status, gone.headers.get('x-amz-delete-marker'), gone.headers.get('x-amz-version-id')], [404, 'true', marker])
    const onMarker = await h(await sign.sign(`${url}?versionId=${marker}`, { method: 'HEAD' }))
    assert.deepEqual([onMarker.status, onMarker.headers.get('x-amz-delete-marker'), onMarker.headers.get('allow')], [405, 'true', 'DELETE'])
    // In a batch: the marker deleted by its id, then v2 by its id; v1 is current again.
    const body = `<Delete><Object><Key>k</Key><VersionId>${marker}</VersionId></Object><Object><Key>k</Key><VersionId>${v2}</VersionId></Object></Delete>`
    const batch = await (await h(await sign.sign('http://localhost/vers?delete', { method: 'POST', body }))).text()
    assert.match(batch, new RegExp(`<Deleted><Key>k</Key><VersionId>${marker}</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${marker}</DeleteMarkerVersionId></Deleted>`))
    assert.match(batch, new RegExp(`<Deleted><Key>k</Key><VersionId>${v2}</VersionId></Deleted>`))
    const now = await h(await sign.sign(url))
    assert.deepEqual([await now.text(), now.headers.get('x-amz-version-id')], ['one', v1])
    // A batch delete without a version makes a marker, named by DeleteMarkerVersionId alone (as AWS answers).
    const made = await (await h(await sign.sign('http://localhost/vers?delete', { method: 'POST', body: '<Delete><Object><Key>k</Key></Object></Delete>' }))).text()
    assert.match(made, /<Deleted><Key>k<\/Key><DeleteMarker>true<\/DeleteMarker><DeleteMarkerVersionId>[^<]+<\/DeleteMarkerVersionId><\/Deleted>/)
  })
})

describe('ListMultipartUploads paging', () => {
  const ids = (xml: string, tag: string): string[] => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map(m => m[1]!)
  /** Every page, following NextKeyMarker and NextUploadIdMarker, with `query` on each. */
  async function pages (h: (r: Request) => Promise<Response>, query: string): Promise<string[]> {
    const out: string[] = []
    let marker = ''
    for (let i = 0; i < 50; i++) {
      const xml = await (await h(await sign.sign(`http://localhost/photos?uploads&${query}${marker}`))).text()
      out.push(xml)
      if (!xml.includes('<IsTruncated>true</IsTruncated>')) return out
      const key = ids(xml, 'NextKeyMarker')[0]!
      const upload = ids(xml, 'NextUploadIdMarker')[0]
      marker = `&key-marker=${encodeURIComponent(key)}${upload === undefined ? '' : `&upload-id-marker=${upload}`}`
    }
    throw new Error('no last page')
  }

  it('lists each upload once, a page at a time, however their ids sort; rolls up a prefix once across pages; max-uploads=0 is an empty page', async () => {
    const h = await setup()
    const started: string[] = []
    for (const key of ['same', 'same', 'same', 'same', 'd/a', 'd/b', 'd/c', 'z']) {
      const xml = await (await h(await sign.sign(`http://localhost/photos/${key}?uploads`, { method: 'POST' }))).text()
      if (key === 'same') started.push(ids(xml, 'UploadId')[0]!)
    }
    const listed = (await pages(h, 'max-uploads=1')).flatMap(xml => ids(xml, 'UploadId'))
    assert.equal(listed.length, 8, `every upload, each once: ${listed.join(' ')}`)
    assert.deepEqual(new Set(listed).size, 8)
    assert.deepEqual(listed.filter(id => started.includes(id)).sort(), [...started].sort())
    const rolled = await pages(h, 'max-uploads=1&delimiter=/')
    assert.deepEqual(rolled.flatMap(xml => ids(xml, 'Prefix')).filter(p => p !== ''), ['d/'], 'd/ once')
    assert.equal(rolled.flatMap(xml => ids(xml, 'UploadId')).length, 5, 'the four of "same" and z')
    // The usual clean-up: a page listed, its upload aborted, the next page asked for from its markers.
    const first = await (await h(await sign.sign('http://localhost/photos?uploads&max-uploads=1'))).text()
    const [markerKey] = ids(first, 'NextKeyMarker')
    const [markerId] = ids(first, 'NextUploadIdMarker')
    assert.equal((await h(await sign.sign(`http://localhost/photos/${markerKey!}?uploadId=${markerId!}`, { method: 'DELETE' }))).status, 204)
    const after = await (await h(await sign.sign(`http://localhost/photos?uploads&key-marker=${encodeURIComponent(markerKey!)}&upload-id-marker=${markerId!}`))).text()
    assert.equal(ids(after, 'UploadId').length, 7, 'every other upload, its key\'s too, though the marker\'s upload is gone')
    const underPrefix = await (await h(await sign.sign('http://localhost/photos?uploads&prefix=d/&delimiter=/&key-marker=d/'))).text()
    assert.equal(ids(underPrefix, 'UploadId').length, 2, 'a key marker equal to the prefix is no rolled-up prefix (d/b and d/c: d/a was aborted)')
    const none = await (await h(await sign.sign('http://localhost/photos?uploads&max-uploads=0'))).text()
    assert.match(none, /<IsTruncated>false<\/IsTruncated>/)
    assert.deepEqual(ids(none, 'UploadId'), [])
  })

  it('encoding-type=url percent-encodes keys, prefixes and markers, as the object listings do; another encoding is refused', async () => {
    const h = await setup()
    for (const key of ['a b/ü', 'a b/x&y', 'c\u0001d']) assert.equal((await h(await sign.sign(`http://localhost/photos/${encodeURIComponent(key)}?uploads`, { method: 'POST' }))).status, 200)
    const xml = await (await h(await sign.sign('http://localhost/photos?uploads&encoding-type=url&max-uploads=2&prefix=a%20b%2F'))).text()
    assert.deepEqual(ids(xml, 'Key'), ['a%20b/x%26y', 'a%20b/%C3%BC'], 'in UTF-8 byte order')
    assert.deepEqual([ids(xml, 'Prefix')[0], ids(xml, 'EncodingType')[0]], ['a%20b/', 'url'])
    const control = await (await h(await sign.sign('http://localhost/photos?uploads&encoding-type=url&prefix=c'))).text()
    assert.deepEqual(ids(control, 'Key'), ['c%01d'], 'a key XML 1.0 cannot carry, listed')
    const plain = await (await h(await sign.sign('http://localhost/photos?uploads&prefix=a%20b%2F&delimiter=%2F'))).text()
    assert.deepEqual(ids(plain, 'Key'), ['a b/x&amp;y', 'a b/ü'])
    const refused = await h(await sign.sign('http://localhost/photos?uploads&encoding-type=base64'))
    assert.equal(refused.status, 400)
    assert.match(await refused.text(), /<Code>InvalidArgument<\/Code>/)
  })
})
