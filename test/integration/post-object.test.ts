/**
 * POST Object, the upload a web page makes from a plain form, against the
 * real server: forms signed by the JS SDK's createPresignedPost and by
 * boto3's generate_presigned_post, sent by fetch, curl and a real Chromium
 * submitting an HTML form; every way a form can fail its policy refused
 * with S3's code, and nothing stored then.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { S3Client, CreateBucketCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutBucketCorsCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3'
import { createPresignedPost, type PresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post'
import { launchChromium } from '../helpers/chromium.js'
import { run } from '../helpers/cli-clients.js'
import { iamCall, userWithPolicy } from '../helpers/iam.js'
import { errorCode, sdkClient, userSdkClient } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const B = 'forms'

/** Posts a form: its fields in order, then the file (or none), as a browser's FormData would. */
async function post (url: string, fields: Record<string, string>, file?: { bytes: Uint8Array, name?: string, type?: string }, after: Record<string, string> = {}): Promise<Response> {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  if (file !== undefined) form.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }), file.name ?? 'upload.bin')
  for (const [k, v] of Object.entries(after)) form.append(k, v)
  return await fetch(url, { method: 'POST', body: form, redirect: 'manual' })
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('POST Object (browser form uploads)', () => {
  let server: ServerProcess
  let s3: S3Client
  let tmp: string

  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
    tmp = await mkdtemp(join(tmpdir(), 's3mesh-post-'))
  })
  after(async () => { s3?.destroy(); await server?.stop(); if (tmp !== undefined) await rm(tmp, { recursive: true, force: true }) })

  const missing = async (key: string): Promise<boolean> => await s3.send(new HeadObjectCommand({ Bucket: B, Key: key })).then(() => false, (e: { name?: string }) => e.name === 'NotFound')
  const presign = async (key: string, conditions: NonNullable<PresignedPostOptions['Conditions']>, fields: Record<string, string> = {}, expires = 600): Promise<PresignedPost> =>
    await createPresignedPost(s3, { Bucket: B, Key: key, Conditions: conditions, Fields: fields, Expires: expires })

  it('a form signed by the SDK\'s createPresignedPost stores its file with the type, metadata and tags it names; 204, 201 with a PostResponse, 200', async () => {
    const bytes = randomBytes(300_000)
    const p = await presign('uploads/${filename}', [['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 1_000_000], ['starts-with', '$Content-Type', 'image/'], { 'x-amz-meta-owner': 'ada' }, ['eq', '$tagging', '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>'], ['eq', '$success_action_status', '201']],
      { 'Content-Type': 'image/png', 'x-amz-meta-owner': 'ada', tagging: '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>', success_action_status: '201' })
    assert.equal(p.url, `${server.url}/${B}`)
    const res = await post(p.url, p.fields, { bytes, name: 'photo one.png', type: 'image/png' })
    const body = await res.text()
    assert.equal(res.status, 201, body)
    assert.match(body, /<PostResponse[^>]*><Location>[^<]+\/forms\/uploads\/photo%20one\.png<\/Location><Bucket>forms<\/Bucket><Key>uploads\/photo one\.png<\/Key><ETag>&quot;[0-9a-f]{32}&quot;<\/ETag><\/PostResponse>/)
    assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/)
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'uploads/photo one.png' }))
    assert.equal(sha(await got.Body!.transformToByteArray()), sha(bytes), 'the file, whole')
    assert.equal(got.ContentType, 'image/png')
    assert.deepEqual(got.Metadata, { owner: 'ada' })
    assert.equal(got.ETag, res.headers.get('etag'))
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'uploads/photo one.png' }))).TagSet, [{ Key: 'k', Value: 'v' }])

    const plain = await presign('plain', [])
    const r204 = await post(plain.url, plain.fields, { bytes: new TextEncoder().encode('x') })
    assert.equal(r204.status, 204, await r204.text())
    const ok200 = await presign('ok200', [{ success_action_status: '200' }], { success_action_status: '200' })
    const r200 = await post(ok200.url, ok200.fields, { bytes: new TextEncoder().encode('y') })
    assert.equal(r200.status, 200, await r200.text())
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ok200' }))).Body!.transformToString(), 'y')
  })

  it('success_action_redirect answers 303 to that address with the bucket, key and ETag', async () => {
    const p = await presign('redirected', [{ success_action_redirect: 'https://app.example/done?from=form' }], { success_action_redirect: 'https://app.example/done?from=form' })
    const res = await post(p.url, p.fields, { bytes: new TextEncoder().encode('hello') })
    assert.equal(res.status, 303, await res.text())
    const to = new URL(res.headers.get('location')!)
    assert.equal(to.origin + to.pathname, 'https://app.example/done')
    assert.deepEqual([...to.searchParams], [['from', 'form'], ['bucket', B], ['key', 'redirected'], ['etag', `"${createHash('md5').update('hello').digest('hex')}"`]])
  })

  it('a Content-MD5 or x-amz-checksum-* field is checked against the file: a match is stored (the checksum kept), a mismatch refused with BadDigest and nothing stored', async () => {
    const bytes = randomBytes(70_000)
    const md5 = createHash('md5').update(bytes).digest('base64')
    const sha256 = createHash('sha256').update(bytes).digest('base64')
    const wrongMd5 = createHash('md5').update('other').digest('base64')
    const wrongSha = createHash('sha256').update('other').digest('base64')
    const form = async (key: string, fields: Record<string, string>): Promise<Response> => {
      const p = await presign(key, Object.entries(fields).map(([k, v]) => ({ [k]: v })), fields)
      return await post(p.url, p.fields, { bytes })
    }
    const good = await form('digest-good', { 'Content-MD5': md5, 'x-amz-checksum-sha256': sha256 })
    assert.equal(good.status, 204, await good.text())
    assert.equal(good.headers.get('x-amz-checksum-sha256'), sha256, 'the checksum is answered as a PUT answers it')
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'digest-good', ChecksumMode: 'ENABLED' }))
    assert.equal(head.ChecksumSHA256, sha256, 'and kept with the object')
    for (const [key, fields, message] of [
      ['digest-bad-md5', { 'Content-MD5': wrongMd5 }, /Content-MD5/],
      ['digest-bad-sha', { 'x-amz-checksum-sha256': wrongSha }, /SHA256/],
    ] as const) {
      const res = await form(key, fields)
      const body = await res.text()
      assert.equal(res.status, 400, body)
      assert.equal(errorCode(body), 'BadDigest', body)
      assert.match(body, message)
      assert.ok(await missing(key), `${key}: nothing stored`)
    }
    const malformed = await form('digest-malformed', { 'Content-MD5': 'not base64 md5' })
    assert.equal(errorCode(await malformed.text()), 'InvalidDigest')
    assert.ok(await missing('digest-malformed'))
  })

  it('fields after the file are ignored, as S3 ignores them', async () => {
    const p = await presign('ignored-after', [])
    const res = await post(p.url, p.fields, { bytes: new TextEncoder().encode('z') }, { 'x-amz-meta-late': 'never' })
    assert.equal(res.status, 204, await res.text())
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ignored-after' }))).Metadata, {})
  })

  it('a form that breaks its policy is refused with S3\'s code and stores nothing', async () => {
    const small = { bytes: new TextEncoder().encode('tiny') }
    const refused = async (key: string, fields: Record<string, string>, code: string, file: { bytes: Uint8Array } | null = small, message?: RegExp): Promise<void> => {
      const res = await post(`${server.url}/${B}`, fields, file ?? undefined)
      const body = await res.text()
      assert.equal(errorCode(body), code, `${key}: ${body}`)
      assert.equal(res.status, ['AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'].includes(code) ? 403 : 400, `${key}: ${code}`)
      if (message !== undefined) assert.match(body, message)
      assert.ok(await missing(key), `${key}: nothing stored`)
    }
    const expired = await presign('expired', [], {}, -10)
    await refused('expired', expired.fields, 'AccessDenied', small, /Policy expired/)
    const outside = await presign('elsewhere/x', [['starts-with', '$key', 'uploads/']])
    await refused('elsewhere/x', outside.fields, 'AccessDenied', small, /Policy Condition failed: \[&quot;starts-with&quot;,&quot;\$key&quot;,&quot;uploads\/&quot;\]/)
    const p = await presign('extra', [])
    await refused('extra', { ...p.fields, 'x-amz-meta-sneaky': '1' }, 'AccessDenied', small, /Extra input fields: x-amz-meta-sneaky/)
    await refused('other-key', { ...p.fields, key: 'other-key' }, 'AccessDenied', small, /Policy Condition failed/)
    const tampered = await presign('tampered', [['starts-with', '$key', 'tampered']])
    const doc = JSON.parse(Buffer.from(tampered.fields.Policy!, 'base64').toString()) as { conditions: unknown[] }
    doc.conditions = doc.conditions.filter(c => !Array.isArray(c))
    await refused('tampered', { ...tampered.fields, Policy: Buffer.from(JSON.stringify(doc)).toString('base64') }, 'SignatureDoesNotMatch')
    await refused('tampered', { ...tampered.fields, 'X-Amz-Credential': tampered.fields['X-Amz-Credential']!.replace(ACCESS_KEY, 'nobody') }, 'InvalidAccessKeyId')
    const sized = await presign('sized', [['content-length-range', 10, 100]])
    await refused('sized', sized.fields, 'EntityTooSmall', { bytes: new Uint8Array(9) })
    await refused('sized', sized.fields, 'EntityTooLarge', { bytes: new Uint8Array(101) })
    await refused('sized', sized.fields, 'EntityTooLarge', { bytes: randomBytes(5 * 1024 * 1024) })
    const ok = await post(`${server.url}/${B}`, sized.fields, { bytes: new Uint8Array(100) })
    assert.equal(ok.status, 204, 'the range includes both ends')
    const nofile = await presign('nofile', [])
    await refused('nofile', nofile.fields, 'IncorrectNumberOfFilesInPostRequest', null)
    await refused('nokey', Object.fromEntries(Object.entries(nofile.fields).filter(([k]) => k !== 'key')), 'InvalidArgument', small, /field named &apos;key&apos;/)
    await refused('bigfields', { ...nofile.fields, 'x-ignore-padding': 'p'.repeat(21 * 1024) }, 'MaxPostPreDataLengthExceeded')
    // Many fields, each small, past 20 KB together.
    await refused('manyfields', { ...nofile.fields, key: 'manyfields', ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x-ignore-${i}`, 'p'.repeat(1000)])) }, 'MaxPostPreDataLengthExceeded')
    await refused('garbled', { ...nofile.fields, Policy: 'not base64 json' }, 'InvalidPolicyDocument')
    await refused('anonymous', { key: 'anonymous' }, 'AccessDenied')

    // A well-signed form whose body ends inside the file (no closing boundary): nothing of it is stored.
    const cut = await presign('broken', [])
    const fieldParts = Object.entries(cut.fields).map(([k, v]) => `--XYZ\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('')
    const broken = await fetch(cut.url, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XYZ' }, body: `${fieldParts}--XYZ\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nunfinished` })
    assert.equal(errorCode(await broken.text()), 'MalformedPOSTRequest')
    assert.ok(await missing('broken'))
    const notForm = await fetch(`${server.url}/${B}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'key=x' })
    assert.equal(notForm.status, 412, 'a bucket POST that is not a form: 412, as S3 answers')
    assert.equal(errorCode(await notForm.text()), 'PreconditionFailed')
  })

  it('form fields no header may carry are refused (400, nothing stored); text beyond US-ASCII is kept as UTF-8', async () => {
    const file = { bytes: new TextEncoder().encode('tiny') }
    const cases: Array<[string, Record<string, string>, string]> = [
      ['ctl-type', { 'Content-Type': 'text/html\r\nX-Evil: 1' }, 'InvalidArgument'],
      ['ctl-meta', { 'x-amz-meta-a': '日本語\u0001' }, 'InvalidArgument'],
      ['ctl-disposition', { 'Content-Disposition': 'attachment\u0007X' }, 'InvalidArgument'],
      ['bad-name', { 'x-amz-meta-a b': '1' }, 'InvalidArgument'],
      ['proto-tagging', { tagging: '<Tagging><__proto__/></Tagging>' }, 'MalformedXML'],
    ]
    for (const [key, fields, code] of cases) {
      const p = await presign(key, Object.entries(fields).map(([k, v]) => ({ [k]: v })), fields)
      const res = await post(p.url, p.fields, file)
      const body = await res.text()
      assert.deepEqual([res.status, errorCode(body)], [400, code], `${key}: ${body}`)
      assert.ok(await missing(key), `${key}: nothing stored`)
    }
    const p = await presign('utf8', [{ 'x-amz-meta-city': '東京' }, { 'Cache-Control': 'max-age=60, 日' }], { 'x-amz-meta-city': '東京', 'Cache-Control': 'max-age=60, 日' })
    const res = await post(p.url, p.fields, file)
    assert.equal(res.status, 204, await res.text())
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'utf8' }))
    // As AWS answers metadata beyond US-ASCII: RFC 2047, of its UTF-8 bytes.
    assert.equal(head.Metadata?.city, `=?UTF-8?B?${Buffer.from('東京').toString('base64')}?=`)
    assert.equal(Buffer.from(head.CacheControl ?? '', 'latin1').toString('utf8'), 'max-age=60, 日')
  })

  it('a form that asks for server-side encryption is refused with NotImplemented and stores nothing (s3mesh does not encrypt at rest)', async () => {
    for (const fields of [{ 'x-amz-server-side-encryption': 'AES256' }, { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }] as Array<Record<string, string>>) {
      const key = `sse-${Object.keys(fields)[0]!.length}`
      const p = await presign(key, [fields], fields)
      const res = await post(p.url, p.fields, { bytes: new TextEncoder().encode('secret') })
      const body = await res.text()
      assert.deepEqual([res.status, errorCode(body)], [501, 'NotImplemented'], body)
      assert.ok(await missing(key), `${key}: nothing stored`)
    }
  })

  it('boto3\'s generate_presigned_post, sent by curl, with ${filename} in the key', async () => {
    const script = `
import boto3, botocore.config, json
s3 = boto3.client('s3', endpoint_url='${server.url}', aws_access_key_id='${ACCESS_KEY}', aws_secret_access_key='${SECRET_KEY}', region_name='us-east-1', config=botocore.config.Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
print(json.dumps(s3.generate_presigned_post('${B}', 'from-python/\${filename}', Fields={'Content-Type': 'text/plain'}, Conditions=[['starts-with', '$key', 'from-python/'], {'Content-Type': 'text/plain'}, ['content-length-range', 1, 1024]], ExpiresIn=300)))
`
    const { url, fields } = JSON.parse((await run('python3', ['-c', script])).stdout) as { url: string, fields: Record<string, string> }
    const file = join(tmp, 'notes.txt')
    await writeFile(file, 'written from a form\n')
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}']
    for (const [k, v] of Object.entries(fields)) args.push('-F', `${k}=${v}`)
    args.push('-F', `file=@${file}`, url)
    assert.equal((await run('curl', args)).stdout, '204')
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'from-python/notes.txt' }))
    assert.equal(await got.Body!.transformToString(), 'written from a form\n')
    assert.equal(got.ContentType, 'text/plain')
  })

  it('an IAM user\'s form may write where the user may put objects, and nowhere else; an anonymous form where a bucket policy allows it', async () => {
    const [key, secret] = await userWithPolicy(iamCall(server.url), 'form-signer', [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/inbox/*` }])
    const user = userSdkClient(server.url, key, secret)
    try {
      const allowed = await createPresignedPost(user, { Bucket: B, Key: 'inbox/a', Expires: 300 })
      assert.equal((await post(allowed.url, allowed.fields, { bytes: new TextEncoder().encode('a') })).status, 204)
      const denied = await createPresignedPost(user, { Bucket: B, Key: 'outbox/a', Expires: 300 })
      const res = await post(denied.url, denied.fields, { bytes: new TextEncoder().encode('a') })
      assert.equal(errorCode(await res.text()), 'AccessDenied')
      assert.ok(await missing('outbox/a'))
    } finally { user.destroy() }

    await s3.send(new PutBucketPolicyCommand({ Bucket: B, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/public-drop/*` }] }) }))
    assert.equal((await post(`${server.url}/${B}`, { key: 'public-drop/note' }, { bytes: new TextEncoder().encode('hi') })).status, 204)
    const res = await post(`${server.url}/${B}`, { key: 'private/note' }, { bytes: new TextEncoder().encode('hi') })
    assert.equal(errorCode(await res.text()), 'AccessDenied')
    assert.ok(await missing('private/note'))
  })

  it('a real Chromium submits an HTML form from another origin: the file is stored and the page lands on the redirect', async () => {
    let form = ''
    const origin = await new Promise<{ http: Server, url: string }>(resolve => {
      const http = createServer((req, res) => {
        if (req.url === '/form') { res.setHeader('content-type', 'text/html'); res.end(form); return }
        if (req.url?.startsWith('/done') === true) { res.setHeader('content-type', 'text/html'); res.end(`<p id="done">${new URL(req.url, 'http://x').searchParams.get('key')}</p>`); return }
        res.statusCode = 404
        res.end()
      }).listen(0, '127.0.0.1', () => { const a = http.address() as { port: number }; resolve({ http, url: `http://127.0.0.1:${a.port}` }) })
    })
    await s3.send(new PutBucketCorsCommand({ Bucket: B, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin.url], AllowedMethods: ['POST'] }] } }))
    const p = await presign('browser/${filename}', [['starts-with', '$key', 'browser/'], { success_action_redirect: `${origin.url}/done` }], { success_action_redirect: `${origin.url}/done` })
    const file = join(tmp, 'picked.bin')
    const bytes = randomBytes(2 * 1024 * 1024)
    await writeFile(file, bytes)
    // Launched inside the try: a browser that fails to start must not leave the origin's server open (the file would never end).
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined
    try {
      browser = await launchChromium()
      const page = await browser.newPage()
      const inputs = Object.entries(p.fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('')
      form = `<form action="${p.url}" method="post" enctype="multipart/form-data">${inputs}<input type="file" name="file"><button>Upload</button></form>`
      await page.goto(`${origin.url}/form`)
      await page.setInputFiles('input[type=file]', file)
      await Promise.all([page.waitForURL(`${origin.url}/done**`), page.click('button')])
      assert.equal(await page.textContent('#done'), 'browser/picked.bin')
    } finally {
      await browser?.close()
      origin.http.close()
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'browser/picked.bin' }))
    assert.equal(sha(await got.Body!.transformToByteArray()), sha(bytes))
  })
})
