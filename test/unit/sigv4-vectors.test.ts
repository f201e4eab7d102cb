/**
 * The worked examples from AWS's S3 SigV4 documentation, run through the real
 * handler with the documented keys and clock. If canonicalisation is off by one
 * byte anywhere, these signatures do not verify.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { createS3Handler } from '../../src/s3-shim/index.js'
import type { PutOptions } from '../../src/core/object-store.js'

const AK = 'AKIAIOSFODNN7EXAMPLE'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const NOW = Date.UTC(2013, 4, 24, 0, 0, 0)
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const auth = (signedHeaders: string, signature: string): string =>
  `AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`

async function setup (): Promise<{ handler: ReturnType<typeof createS3Handler>, store: MemoryStore }> {
  const store = new MemoryStore()
  await store.createBucket('examplebucket')
  await store.putObject('examplebucket', 'test.txt', streamOfBytes(new TextEncoder().encode('0123456789abcdef')), { metadata: { user: {} } })
  const handler = createS3Handler({
    store, credentials: { secretFor: k => k === AK ? SECRET : undefined }, now: () => NOW, virtualHostDomains: ['s3.amazonaws.com'],
  })
  return { handler, store }
}

describe('SigV4: AWS documentation examples', () => {
  it('GET Object with a Range (header auth)', async () => {
    const { handler } = await setup()
    const res = await handler(new Request('http://examplebucket.s3.amazonaws.com/test.txt', {
      headers: {
        host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z',
        authorization: auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      },
    }))
    assert.equal(res.status, 206, await res.clone().text())
    assert.equal(await res.text(), '0123456789')
  })

  it('PUT Object with a signed payload hash and a Date header', async () => {
    const { handler, store } = await setup()
    const res = await handler(new Request('http://examplebucket.s3.amazonaws.com/test%24file.text', {
      method: 'PUT',
      body: 'Welcome to Amazon S3.',
      headers: {
        host: 'examplebucket.s3.amazonaws.com', date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        authorization: auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
      },
    }))
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal((await store.headObject('examplebucket', 'test$file.text')).size, 21)
  })

  it('GET Bucket (list objects) with a sorted canonical query', async () => {
    const { handler } = await setup()
    const res = await handler(new Request('http://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J', {
      headers: {
        host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z',
        authorization: auth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
      },
    }))
    assert.equal(res.status, 200, await res.clone().text())
    assert.match(await res.text(), /<MaxKeys>2<\/MaxKeys>/)
  })

  it('a presigned GET URL', async () => {
    const { handler } = await setup()
    const url = 'http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'
    const res = await handler(new Request(url, { headers: { host: 'examplebucket.s3.amazonaws.com' } }))
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(await res.text(), '0123456789abcdef')
    const tampered = await handler(new Request(url.replace('test.txt', 'test.txx'), { headers: { host: 'examplebucket.s3.amazonaws.com' } }))
    assert.equal(tampered.status, 403)
    assert.match(await tampered.text(), /SignatureDoesNotMatch/)
  })

  it('SignedHeaders naming what no header can be named is a 400 (not a 500), in the header and in a presigned URL', async () => {
    const { handler } = await setup()
    for (const names of ['host;;x-amz-date', 'host;x y;x-amz-date', 'host;x-amz-date:']) {
      const res = await handler(new Request('http://examplebucket.s3.amazonaws.com/test.txt', {
        headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z', authorization: auth(names, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41') },
      }))
      assert.equal(res.status, 400, names)
      assert.match(await res.text(), /<Code>AuthorizationHeaderMalformed<\/Code>/)
    }
    const url = 'http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host%3B&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'
    const res = await handler(new Request(url, { headers: { host: 'examplebucket.s3.amazonaws.com' } }))
    assert.equal(res.status, 400)
    assert.match(await res.text(), /<Code>AuthorizationQueryParametersError<\/Code>/)
  })

  it('a credential dated another day than the request is malformed: in the header as such, in a presigned URL as its query', async () => {
    const { handler } = await setup()
    const header = await handler(new Request('http://examplebucket.s3.amazonaws.com/test.txt', {
      headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z', authorization: auth('host;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41').replace('/20130524/', '/20130523/') },
    }))
    assert.match(await header.text(), /<Code>AuthorizationHeaderMalformed<\/Code>/)
    const url = 'http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130523%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'
    const query = await handler(new Request(url, { headers: { host: 'examplebucket.s3.amazonaws.com' } }))
    assert.equal(query.status, 400)
    assert.match(await query.text(), /<Code>AuthorizationQueryParametersError<\/Code>/)
  })

  it('a presigned URL past its expiry is refused', async () => {
    const store = new MemoryStore()
    await store.createBucket('examplebucket')
    const late = createS3Handler({ store, credentials: { secretFor: () => SECRET }, now: () => NOW + 86401_000, virtualHostDomains: ['s3.amazonaws.com'] })
    const url = 'http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'
    const res = await late(new Request(url, { headers: { host: 'examplebucket.s3.amazonaws.com' } }))
    assert.equal(res.status, 403)
    assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/)
  })

  const chunkedBody = (sigs: [string, string, string]): Uint8Array => {
    const a = (n: number): string => 'a'.repeat(n)
    return new TextEncoder().encode(
      `10000;chunk-signature=${sigs[0]}\r\n${a(65536)}\r\n` +
      `400;chunk-signature=${sigs[1]}\r\n${a(1024)}\r\n` +
      `0;chunk-signature=${sigs[2]}\r\n\r\n`)
  }
  const chunkedRequest = (body: Uint8Array): Request => new Request('http://s3.amazonaws.com/examplebucket/chunkObject.txt', {
    method: 'PUT',
    body: streamOfBytes(body, 1000),
    // @ts-expect-error Node's fetch needs duplex for stream bodies
    duplex: 'half',
    headers: {
      host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560', 'content-length': '66824',
      authorization: auth('content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
        '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'),
    },
  })
  const GOOD: [string, string, string] = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ]

  it('aws-chunked upload with per-chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', async () => {
    const { handler, store } = await setup()
    const res = await handler(chunkedRequest(chunkedBody(GOOD)))
    assert.equal(res.status, 200, await res.clone().text())
    const info = await store.headObject('examplebucket', 'chunkObject.txt')
    assert.equal(info.size, 66560)
    assert.equal(info.metadata.contentEncoding, undefined, 'aws-chunked is framing, not the object\'s encoding')
  })

  it('aws-chunked upload with one forged chunk signature stores nothing', async () => {
    const { handler, store } = await setup()
    const res = await handler(chunkedRequest(chunkedBody([GOOD[0], GOOD[1].replace(/^0/, '1'), GOOD[2]])))
    assert.equal(res.status, 403)
    assert.match(await res.text(), /SignatureDoesNotMatch/)
    await assert.rejects(store.headObject('examplebucket', 'chunkObject.txt'))
  })

  it('a forged last chunk: the store never sees the whole declared body (a gateway that streams it on would have the node commit it)', async () => {
    const { store } = await setup()
    let seen = 0
    // What a store streaming the body on is handed, counted as it goes.
    const counting = Object.assign(Object.create(store) as MemoryStore, {
      putObject: async (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions) =>
        await store.putObject(bucket, key, body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (c, ctl) => { seen += c.byteLength; ctl.enqueue(c) } })), options),
    })
    const handler = createS3Handler({ store: counting, credentials: { secretFor: k => k === AK ? SECRET : undefined }, now: () => NOW, virtualHostDomains: ['s3.amazonaws.com'] })
    const good = await handler(chunkedRequest(chunkedBody(GOOD)))
    assert.equal([good.status, seen].join(), '200,66560', 'the precondition: a good body reaches the store whole')
    seen = 0
    const res = await handler(chunkedRequest(chunkedBody([GOOD[0], GOOD[1].replace(/^0/, '1'), GOOD[2]])))
    assert.equal(res.status, 403)
    assert.ok(seen < 66560, `${seen} bytes reached the store`)
  })
})
