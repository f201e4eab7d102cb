/** Hostile and broken requests against the real server: the right S3 error, and nothing written. */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { errorCode, sdkClient, signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const B = 'guarded'

/** A raw request whose path no URL parser has touched. */
function rawRequest (port: number, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, res => {
      let text = ''
      res.on('data', d => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode!, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('bad input', () => {
  let server: ServerProcess
  let s3: S3Client
  const sign = signer()
  const keys = async (): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: B }))).Contents ?? []).map(c => c.Key!)
  const signed = async (path: string, init: RequestInit & { aws?: Record<string, unknown> } = {}): Promise<{ status: number, code?: string, text: string }> => {
    const res = await fetch(await sign.sign(`${server.url}${path}`, init as never))
    const text = await res.text()
    return { status: res.status, code: errorCode(text), text }
  }

  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('wrong secret, tampered signature, unknown key, anonymous, skewed clock', async () => {
    const wrong = sdkClient(server.url, 'not-the-secret')
    await assert.rejects(wrong.send(new PutObjectCommand({ Bucket: B, Key: 'w', Body: 'x' })), { name: 'SignatureDoesNotMatch' })
    wrong.destroy()
    const req = await sign.sign(`${server.url}/${B}/t`, { method: 'PUT', body: 'x' })
    const auth = req.headers.get('authorization')!
    const tampered = auth.slice(0, -1) + (auth.endsWith('0') ? '1' : '0')
    const r1 = await fetch(req.url, { method: 'PUT', body: 'x', headers: { ...Object.fromEntries(req.headers), authorization: tampered } })
    assert.equal(r1.status, 403)
    assert.equal(errorCode(await r1.text()), 'SignatureDoesNotMatch')
    const r2 = await fetch(req.url, { method: 'PUT', body: 'x', headers: { ...Object.fromEntries(req.headers), authorization: auth.replace('testaccesskey', 'nosuchkey') } })
    assert.equal(errorCode(await r2.text()), 'InvalidAccessKeyId')
    const anon = await fetch(`${server.url}/${B}/anon`, { method: 'PUT', body: 'x' })
    assert.equal(anon.status, 403)
    assert.equal(errorCode(await anon.text()), 'AccessDenied')
    const skewed = await signed(`/${B}/skew`, { method: 'PUT', body: 'x', aws: { datetime: '20200101T000000Z' } })
    assert.equal(skewed.code, 'RequestTimeTooSkewed')
    assert.deepEqual(await keys(), [])
  })

  it('expired and over-long presigned URLs', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'p', Body: 'x' }))
    const expired = await sign.sign(`${server.url}/${B}/p?X-Amz-Expires=60`, { aws: { signQuery: true, datetime: '20200101T000000Z' } } as never)
    const r = await fetch(expired.url)
    assert.equal(r.status, 403)
    assert.match(await r.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/)
    const tooLong = await sign.sign(`${server.url}/${B}/p?X-Amz-Expires=604801`, { aws: { signQuery: true } } as never)
    assert.equal(errorCode(await (await fetch(tooLong.url)).text()), 'AuthorizationQueryParametersError')
    const ok = await sign.sign(`${server.url}/${B}/p?X-Amz-Expires=60`, { aws: { signQuery: true } } as never)
    assert.equal((await fetch(ok.url)).status, 200)
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'p', Body: 'x' }))
  })

  it('a request signed in its Authorization header takes no x-amz-* header its signature does not cover (sent again with one added, within the clock skew)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'secret', Body: 'not for the copier' }))
    const body = 'signed as it is'
    const asSigned = await sign.sign(`${server.url}/${B}/replayed`, { method: 'PUT', body })
    assert.equal(asSigned.headers.get('x-amz-acl'), null, 'the precondition: the signature covers no ACL')
    for (const [name, value] of [['x-amz-copy-source', `/${B}/secret`], ['x-amz-acl', 'public-read'], ['x-amz-meta-added', 'x']] as const) {
      const headers = new Headers(asSigned.headers)
      headers.set(name, value)
      const res = await fetch(asSigned.url, { method: 'PUT', body, headers })
      const text = await res.text()
      assert.equal(res.status, 403, `${name}: ${text}`)
      assert.match(text, new RegExp(`<HeadersNotSigned>${name}</HeadersNotSigned>`))
    }
    assert.ok(!(await keys()).includes('replayed'), 'nothing was written')
    assert.equal((await fetch(asSigned.url, { method: 'PUT', body, headers: asSigned.headers })).status, 200, 'the request as signed works')
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'replayed' }))
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'secret' }))
  })

  it('a presigned URL takes no header or operation its signature does not cover: x-amz-copy-source, x-amz-acl or x-amz-tagging added to a SigV4 URL, retention added to a SigV2 one', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'secret', Body: 'not for the URL\'s holder' }))
    const put = await sign.sign(`${server.url}/${B}/dropbox?X-Amz-Expires=60`, { method: 'PUT', aws: { signQuery: true } } as never)
    for (const [name, value] of [['x-amz-copy-source', `/${B}/secret`], ['x-amz-acl', 'public-read'], ['x-amz-tagging', 'a=b']] as const) {
      const res = await fetch(put.url, { method: 'PUT', body: new Uint8Array([1]), headers: { [name]: value } })
      const text = await res.text()
      assert.equal(res.status, 403, `${name}: ${text}`)
      assert.match(text, new RegExp(`<HeadersNotSigned>${name}</HeadersNotSigned>`))
    }
    assert.ok(!(await keys()).includes('dropbox'), 'nothing was written')
    assert.equal((await fetch(put.url, { method: 'PUT', body: new Uint8Array([1]) })).status, 200, 'the URL as signed works')
    // SigV2 (s3cmd signurl): its canonical resource leaves out sub-resources newer than it.
    const expires = Math.floor(Date.now() / 1000) + 60
    const v2 = (path: string): string => `${server.url}${path}?AWSAccessKeyId=${ACCESS_KEY}&Expires=${expires}&Signature=${encodeURIComponent(createHmac('sha1', SECRET_KEY).update(`PUT\n\n\n${expires}\n${path}`).digest('base64'))}`
    assert.equal((await fetch(v2(`/${B}/dropbox`), { method: 'PUT', body: new Uint8Array([2]) })).status, 200, 'a SigV2 URL as signed works')
    // A SigV2 signature leaves its query's x-amz-* parameters out: they are not read as headers there (only a SigV4 URL's are).
    const forged = await fetch(`${v2(`/${B}/dropbox`)}&X-Amz-Algorithm=AWS4-HMAC-SHA256&x-amz-copy-source=${encodeURIComponent(`/${B}/secret`)}&x-amz-acl=public-read`, { method: 'PUT', body: new Uint8Array([3]) })
    assert.equal(forged.status, 200, await forged.clone().text())
    assert.deepEqual([...new Uint8Array(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'dropbox' }))).Body!.transformToByteArray())], [3], 'the body written, not a copy of the secret')
    assert.equal((await fetch(`${server.url}/${B}/dropbox`)).status, 403, 'and not public')
    const retention = await fetch(`${v2(`/${B}/dropbox`)}&retention`, { method: 'PUT', body: new TextEncoder().encode('<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>') })
    assert.equal(retention.status, 403)
    assert.match(await retention.text(), /does not sign &quot;retention&quot;/)
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'dropbox' }))
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'secret' }))
  })

  it('keys that would escape the bucket: ../x, %2e%2e/x, NUL, over 1024 bytes', async () => {
    for (const path of [`/${B}/../x`, `/${B}/%2e%2e/x`, `/${B}/a/%2E%2E/%2e%2e/x`, `/${B}/./x`]) {
      const r = await rawRequest(server.port, 'PUT', path, { 'content-length': '1' }, Buffer.from('x'))
      assert.equal(r.status, 400, path)
      assert.equal(errorCode(r.body), 'InvalidArgument', path)
    }
    const nul = await signed(`/${B}/a%00b`, { method: 'PUT', body: 'x' })
    assert.equal(nul.code, 'InvalidArgument')
    const long = await signed(`/${B}/${'k'.repeat(1025)}`, { method: 'PUT', body: 'x' })
    assert.equal(long.code, 'KeyTooLongError')
    const okLong = await signed(`/${B}/${'k'.repeat(1024)}`, { method: 'PUT', body: 'x' })
    assert.equal(okLong.status, 200)
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'k'.repeat(1024), Body: '' }))
    assert.deepEqual((await keys()).filter(k => !k.startsWith('kkk')), ['p'])
    assert.deepEqual((await readdir(server.dataDir)).sort(), ['.s3mesh', B], 'no folder was made outside the bucket')
  })

  it('invalid bucket names', async () => {
    for (const name of ['ab', 'UPPER', '-dash', 'dash-', 'a..b', '192.168.1.1', 'xn--punycode', 'a_b', 'x'.repeat(64), '.s3mesh']) {
      const r = await signed(`/${encodeURIComponent(name)}`, { method: 'PUT' })
      assert.equal(r.code, 'InvalidBucketName', name)
    }
    assert.deepEqual((await readdir(server.dataDir)).sort(), ['.s3mesh', B])
  })

  it('malformed XML bodies and bad part lists', async () => {
    const bad = ['<Delete><Object><Key>a</Key></Object>', 'not xml at all', '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>', '<Wrong/>']
    for (const body of bad) assert.equal((await signed(`/${B}?delete`, { method: 'POST', body })).code, 'MalformedXML', body)
    assert.equal((await signed(`/${B}?cors`, { method: 'PUT', body: '<CORSConfiguration><CORSRule></CORSRule></CORSConfiguration>' })).code, 'MalformedXML')
    assert.equal((await signed(`/${B}?cors`, { method: 'PUT', body: '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>' })).code, 'InvalidRequest')
    const init = await signed(`/${B}/mp?uploads`, { method: 'POST' })
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.text)![1]!
    assert.equal((await signed(`/${B}/mp?uploadId=${uploadId}`, { method: 'POST', body: '<CompleteMultipartUpload><Part>' })).code, 'MalformedXML')
    const missing = await signed(`/${B}/mp?uploadId=${uploadId}`, {
      method: 'POST', body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"0123456789abcdef0123456789abcdef"</ETag></Part></CompleteMultipartUpload>',
    })
    assert.equal(missing.code, 'InvalidPart')
    assert.equal((await signed(`/${B}/mp?uploadId=../../../etc`, { method: 'POST', body: '<CompleteMultipartUpload/>' })).code, 'NoSuchUpload')
    assert.equal((await signed(`/${B}/mp?partNumber=0&uploadId=${uploadId}`, { method: 'PUT', body: 'x' })).code, 'InvalidArgument')
    assert.equal((await signed(`/${B}/mp?partNumber=10001&uploadId=${uploadId}`, { method: 'PUT', body: 'x' })).code, 'InvalidArgument')
    // ListParts: no parts asked for is an empty page, not a 500; a marker that is no part number is refused.
    assert.equal((await signed(`/${B}/mp?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', body: 'a part' })).status, 200)
    const none = await signed(`/${B}/mp?uploadId=${uploadId}&max-parts=0`)
    assert.equal(none.status, 200, none.text)
    assert.match(none.text, /<IsTruncated>false<\/IsTruncated>/, 'an empty page, not truncated (a paginator would loop on it)')
    assert.doesNotMatch(none.text, /<Part>/)
    assert.equal((await signed(`/${B}/mp?uploadId=${uploadId}&part-number-marker=abc`)).code, 'InvalidArgument')
    await rejectsNothingStored('mp')
  })

  it('GetObjectAttributes: a part-number marker that is no part number is refused, and no parts asked for is an empty page', async () => {
    const init = await signed(`/${B}/attrs?uploads`, { method: 'POST' })
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.text)![1]!
    const part = await fetch(await sign.sign(`${server.url}/${B}/attrs?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', body: 'one part' } as never))
    assert.equal(part.status, 200)
    const etag = part.headers.get('etag')!
    const done = await signed(`/${B}/attrs?uploadId=${uploadId}`, { method: 'POST', body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>` })
    assert.equal(done.status, 200, done.text)
    const attributes = async (headers: Record<string, string>): Promise<{ status: number, code?: string, text: string }> => await signed(`/${B}/attrs?attributes`, { headers: { 'x-amz-object-attributes': 'ObjectParts', ...headers } })
    const first = await attributes({})
    assert.equal(first.status, 200, first.text)
    assert.match(first.text, /<PartsCount>1<\/PartsCount>/, 'the object\'s parts are listed (the precondition)')
    for (const marker of ['1.5', '-1', 'abc', '123456']) assert.equal((await attributes({ 'x-amz-part-number-marker': marker })).code, 'InvalidArgument', marker)
    const none = await attributes({ 'x-amz-max-parts': '0' })
    assert.equal(none.status, 200, none.text)
    assert.match(none.text, /<IsTruncated>false<\/IsTruncated>/, 'an empty page, not truncated (a paginator would loop on it)')
    assert.doesNotMatch(none.text, /<NextPartNumberMarker>/)
  })

  it('a DeleteObjects body whose keys XML 1.0 cannot carry (a reference to a surrogate or a control character, bytes that are not UTF-8) deletes nothing', async () => {
    assert.equal((await signed(`/${B}/photo`, { method: 'PUT', body: 'kept' })).status, 200)
    assert.equal((await signed(`/${B}/ab`, { method: 'PUT', body: 'kept' })).status, 200)
    for (const key of ['photo&#xD800;', 'a&#x1;b', 'photo&#0;']) {
      assert.equal((await signed(`/${B}?delete`, { method: 'POST', body: `<Delete><Object><Key>${key}</Key></Object></Delete>` })).code, 'MalformedXML', key)
    }
    const latin1 = Buffer.concat([Buffer.from('<Delete><Object><Key>photo'), Buffer.from([0xe9]), Buffer.from('</Key></Object></Delete>')])
    assert.equal((await signed(`/${B}?delete`, { method: 'POST', body: latin1 })).code, 'MalformedXML', 'not UTF-8')
    for (const key of ['photo', 'ab']) assert.equal((await signed(`/${B}/${key}`)).text, 'kept', key)
  })

  it('XML the parser cannot take, CORS rules no header may carry, header overrides with control characters, IAM actions named like Object.prototype', async () => {
    // Well-formed, but nested deeper than the parser allows, or an element named __proto__: refused as S3 would, not a 500.
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'named', Body: 'x' }))
    const deep = `<Delete>${'<a>'.repeat(101)}${'</a>'.repeat(101)}</Delete>`
    for (const body of [deep, '<Delete><__proto__/></Delete>']) assert.equal((await signed(`/${B}?delete`, { method: 'POST', body })).code, 'MalformedXML', body.slice(0, 40))
    const tagging = await signed(`/${B}/named?tagging`, { method: 'PUT', body: '<Tagging><__proto__/></Tagging>' })
    assert.equal(tagging.code, 'MalformedXML')
    assert.equal((await signed(`/${B}?delete`, { method: 'POST', body: '<Delete><Quiet>maybe</Quiet><Object><Key>named</Key></Object></Delete>' })).code, 'MalformedXML', 'Quiet is true or false')
    assert.equal((await signed(`/${B}?delete`, { method: 'POST', body: '<Delete><Quiet/><Object><Key>not-there</Key></Object></Delete>' })).status, 200, 'an empty Quiet is false')
    const reserved = await signed(`/${B}/named?tagging`, { method: 'PUT', body: '<Tagging><TagSet><Tag><Key>aws:owner</Key><Value>x</Value></Tag></TagSet></Tagging>' })
    assert.equal(reserved.code, 'InvalidTag', 'aws: keys are AWS\'s')
    assert.equal((await signed(`/${B}/twice`, { method: 'PUT', body: 'x', headers: { 'x-amz-tagging': 'a=1&a=2' } })).code, 'InvalidTag', 'a tag key given twice')
    await rejectsNothingStored('twice')
    const malformed = await signed(`/${B}/spoilt`, { method: 'PUT', body: 'x', headers: { 'x-amz-tagging': 'a=%E0%A4' } })
    assert.equal(malformed.code, 'InvalidArgument', 'malformed percent-encoding in x-amz-tagging')
    assert.match(malformed.text, /<Message>[^<]*x-amz-tagging/, 'the error names the header')
    await rejectsNothingStored('spoilt')
    await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'named' }))

    // A rule holding a line break or a control character would break every answer to a request it matches: refused when set.
    // (A control character other than a line break is not XML at all: MalformedXML.)
    for (const [expose, code] of [['x&#13;&#10;y', 'InvalidRequest'], ['x\u0001y', 'MalformedXML'], ['two words', 'InvalidRequest'], ['caf\u00e9', 'InvalidRequest']]) {
      const body = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>${expose}</ExposeHeader></CORSRule></CORSConfiguration>`
      assert.equal((await signed(`/${B}?cors`, { method: 'PUT', body })).code, code, expose)
    }
    assert.equal((await signed(`/${B}?cors`, { method: 'GET' })).code, 'NoSuchCORSConfiguration', 'none of them was kept')
    const emptyExpose = '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader/></CORSRule></CORSConfiguration>'
    assert.equal((await signed(`/${B}?cors`, { method: 'PUT', body: emptyExpose })).status, 200, 'an empty value is taken, as before')
    assert.equal((await signed(`/${B}?cors`, { method: 'DELETE' })).status, 204)

    // response-* overrides: a UTF-8 filename reaches the client as UTF-8; a control character is refused.
    const disposition = 'attachment; filename="日本.txt"'
    const res = await fetch(await sign.sign(`${server.url}/${B}/named?response-content-disposition=${encodeURIComponent(disposition)}`))
    await res.arrayBuffer()
    // Headers hold bytes as Latin-1 characters: the bytes themselves, to decode as UTF-8.
    const raw = { status: res.status, header: Buffer.from(res.headers.get('content-disposition') ?? '', 'latin1').toString('utf8') }
    assert.deepEqual(raw, { status: 200, header: disposition })
    for (const [param, value] of [['response-cache-control', '\x7f'], ['response-content-type', '\r\nX-Evil: 1'], ['response-content-disposition', '\0']]) {
      const r = await signed(`/${B}/named?${param}=${encodeURIComponent(value!)}`)
      assert.deepEqual([r.status, r.code], [400, 'InvalidArgument'], param)
    }

    // The IAM and STS APIs look an Action up among their own: Object.prototype's names are no actions.
    for (const [service, action] of [['iam', 'constructor'], ['iam', 'toString'], ['iam', '__proto__'], ['sts', 'hasOwnProperty']]) {
      const res = await sign.fetch(`${server.url}/`, {
        method: 'POST', body: new URLSearchParams({ Action: action!, Version: '2010-05-08' }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, aws: { service },
      } as never)
      const text = await res.text()
      assert.deepEqual([res.status, errorCode(text)], [400, 'InvalidAction'], `${service} ${action}`)
    }
  })

  async function rejectsNothingStored (key: string): Promise<void> {
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: B, Key: key })), { name: 'NotFound' })
  }

  it('bodies that do not match their Content-MD5, checksum or signed SHA-256', async () => {
    const md5 = await signed(`/${B}/md5`, { method: 'PUT', body: 'hello', headers: { 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==' } })
    assert.equal(md5.status, 200, 'the right MD5 passes')
    const badMd5 = await signed(`/${B}/bad-md5`, { method: 'PUT', body: 'hellO', headers: { 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==' } })
    assert.equal(badMd5.code, 'BadDigest')
    assert.equal((await signed(`/${B}/bad-md5`, { method: 'PUT', body: 'x', headers: { 'content-md5': 'short' } })).code, 'InvalidDigest')
    const crc = await signed(`/${B}/bad-crc`, { method: 'PUT', body: 'hello', headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } })
    assert.equal(crc.code, 'BadDigest')
    // CRC-64/NVME's check value (the CRC catalogue's, of "123456789"): right, then on other bytes.
    const nvme = { 'x-amz-checksum-crc64nvme': Buffer.from('ae8b14860a799888', 'hex').toString('base64') }
    assert.equal((await signed(`/${B}/crc64`, { method: 'PUT', body: '123456789', headers: nvme })).status, 200, 'the right CRC64/NVME passes')
    assert.equal((await signed(`/${B}/bad-crc64`, { method: 'PUT', body: '123456788', headers: nvme })).code, 'BadDigest')
    assert.equal((await signed(`/${B}/bad-crc64`, { method: 'PUT', body: 'x', headers: { 'x-amz-checksum-crc64nvme': 'AAAA' } })).code, 'InvalidRequest', 'a CRC64 is 8 bytes')
    const sha = await signed(`/${B}/bad-sha`, { method: 'PUT', body: 'hello', headers: { 'x-amz-content-sha256': 'a'.repeat(64) } })
    assert.equal(sha.code, 'XAmzContentSHA256Mismatch')
    for (const k of ['bad-md5', 'bad-crc', 'bad-crc64', 'bad-sha']) await rejectsNothingStored(k)
  })

  it('aws-chunked bodies: an endless trailer section is refused at 16 lines (it once grew until the process died); a short decoded body is IncompleteBody for a document too', async () => {
    const streaming = (decoded: number, trailer = true): Record<string, string> => ({
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded), ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
    })
    // CRC32 of no bytes is 0.
    const trailer = (junk: number): string => `0\r\nx-amz-checksum-crc32:AAAAAA==\r\n${'x-junk:1\r\n'.repeat(junk)}\r\n`
    assert.equal((await signed(`/${B}/trailers`, { method: 'PUT', body: trailer(2), headers: streaming(0) })).status, 200, 'precondition: a few trailer lines pass')
    const many = await signed(`/${B}/many-trailers`, { method: 'PUT', body: trailer(20), headers: streaming(0) })
    assert.equal(`${many.status} ${many.code}`, '400 IncompleteBody')
    await rejectsNothingStored('many-trailers')
    // A bucket policy of 200 bytes said, 2 sent.
    const policy = await signed(`/${B}?policy`, { method: 'PUT', body: '2\r\n{}\r\n0\r\n\r\n', headers: streaming(200, false) })
    assert.equal(`${policy.status} ${policy.code}`, '400 IncompleteBody')
  })

  it('headers past the server\'s limit are answered 431, not a bare 400, and the connection closed', async () => {
    const answer = await new Promise<string>(resolve => {
      const socket = connect(server.port, '127.0.0.1', () => { socket.write(`GET /${B}/k HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`) })
      let text = ''
      socket.on('data', d => { text += d.toString() })
      socket.on('close', () => { resolve(text) })
      // (A reset after the answer, the request's rest unread by the server, is no failure here.)
      socket.on('error', () => {})
    })
    assert.match(answer, /^HTTP\/1\.1 431 /)
  })

  it('a client that disconnects mid-PUT leaves no object and no temp file', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cut', Body: 'previous version' }))
    const presigned = await sign.sign(`${server.url}/${B}/cut?X-Amz-Expires=60`, { method: 'PUT', aws: { signQuery: true } } as never)
    const url = new URL(presigned.url)
    await new Promise<void>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 10000000\r\n\r\n`)
        socket.write(randomBytes(3_000_000), () => { setTimeout(() => { socket.destroy(); resolve() }, 200) })
      })
      socket.on('error', reject)
    })
    await new Promise(resolve => setTimeout(resolve, 300))
    const got = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cut' }))
    assert.equal(got.ContentLength, 'previous version'.length)
    assert.deepEqual(await readdir(join(server.dataDir, '.s3mesh', 'tmp')), [])
  })

  it('a full disk answers InsufficientStorage, keeps the old object and recovers', async (t) => {
    const mountPoint = await mkdtemp(join(tmpdir(), 's3mesh-full-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint], { stdio: 'pipe' })
    } catch (err) {
      await rm(mountPoint, { recursive: true, force: true })
      if (process.env.CI === 'true') throw new Error(`CI must be able to mount a tmpfs (run as root): ${String(err)}`)
      t.skip('cannot mount a tmpfs here (needs root): the full-disk test did not run')
      return
    }
    const dataDir = join(mountPoint, 'data')
    await mkdir(dataDir)
    const small = await startServerProcess({ dataDir })
    const client = sdkClient(small.url)
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'full' }))
      await client.send(new PutObjectCommand({ Bucket: 'full', Key: 'keep', Body: 'safe' }))
      await assert.rejects(client.send(new PutObjectCommand({ Bucket: 'full', Key: 'keep', Body: randomBytes(4 * 1024 * 1024) })), (err: { name: string, $metadata: { httpStatusCode: number } }) => {
        assert.equal(err.name, 'InsufficientStorage')
        assert.equal(err.$metadata.httpStatusCode, 507)
        return true
      })
      const head = await client.send(new HeadObjectCommand({ Bucket: 'full', Key: 'keep' }))
      assert.equal(head.ContentLength, 4)
      assert.deepEqual(await readdir(join(dataDir, '.s3mesh', 'tmp')), [])
      await client.send(new PutObjectCommand({ Bucket: 'full', Key: 'after', Body: 'still works' }))
    } finally {
      client.destroy()
      await small.stop({ remove: false })
      execFileSync('umount', [mountPoint])
      await rm(mountPoint, { recursive: true, force: true })
    }
  })
})
