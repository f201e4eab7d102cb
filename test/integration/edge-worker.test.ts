/**
 * The edge worker (dist/edge-bundle/s3mesh-edge.js, the file a user deploys)
 * in Deno (`deno serve`) and imported by plain Node (workerd: edge-workerd.test.ts), in front of two real `s3mesh server` processes: signed S3 through the
 * AWS SDK, bad signatures refused at the edge, cache hits that never reach the
 * mesh (counted by the nodes' own metrics), and failover when a node stops.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'
import { s3Signer } from '../../src/core/s3-signer.js'

import { BUNDLE, DENO, exercise, meshRequests, twoNodeMesh } from '../helpers/edge.js'

describe('the edge worker in Deno and in Node', () => {
  const mesh = twoNodeMesh()
  const { nodes } = mesh

  it('runs under `deno serve`, configured from the environment', async () => {
    const deno: ChildProcess = spawn(DENO, ['serve', '--host', '127.0.0.1', '--port', '0', '--allow-net', '--allow-env', '--no-prompt', BUNDLE], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...mesh.bindings },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`deno serve printed no address: ${out}`)) }, 30_000)
        const seen = (b: Buffer): void => {
          out += b.toString()
          const found = /Listening on (http:\/\/\S+?)\/?\s/.exec(out)?.[1]
          if (found !== undefined) { clearTimeout(timer); resolve(found) }
        }
        deno.stdout!.on('data', seen)
        deno.stderr!.on('data', seen)
        deno.once('exit', code => { reject(new Error(`deno exited (${code}): ${out}`)) })
      })
      await exercise(url, nodes, 'deno')
    } finally {
      deno.kill()
    }
  })

  it('imports into plain Node and answers Requests, a memory cache keeping GETs from the mesh', async () => {
    const worker = (await import(BUNDLE) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const env = { ...mesh.bindings, S3MESH_CACHE: 'memory', S3MESH_CACHE_TTL_SECONDS: '60' }
    const client = signer()
    const send = async (path: string, init: RequestInit = {}): Promise<Response> => await worker.fetch(await client.sign(`http://edge.test${path}`, init), env)
    assert.equal((await send('/plain', { method: 'PUT' })).status, 200)
    assert.equal((await send('/plain/a.txt', { method: 'PUT', body: 'from node' })).status, 200)
    const before = await meshRequests(nodes)
    for (let i = 0; i < 3; i++) assert.equal(await (await send('/plain/a.txt')).text(), 'from node')
    assert.deepEqual(await meshRequests(nodes), { all: before.all + 1, gets: before.gets + 1 }, 'one miss, two hits: one request reached the mesh')
    // An ETag the cache knows answers 304 from the edge.
    const etag = (await send('/plain/a.txt', { method: 'HEAD' })).headers.get('etag')!
    const beforeConditional = await meshRequests(nodes)
    assert.equal((await send('/plain/a.txt', { headers: { 'if-none-match': etag } })).status, 304)
    assert.deepEqual(await meshRequests(nodes), beforeConditional, 'the 304 came from the edge: no request reached the mesh')
    // Virtual-hosted style under a configured domain.
    const hosted = await worker.fetch(await client.sign('http://plain.s3.edge.test/a.txt'), { ...env, S3MESH_DOMAINS: 's3.edge.test' })
    assert.equal(await hosted.text(), 'from node')
    const forged = await signer('not-the-secret-key').sign('http://edge.test/plain/a.txt')
    assert.equal((await worker.fetch(forged, env)).status, 403)
    assert.equal((await worker.fetch(new Request('http://edge.test/plain/a.txt'), env)).status, 403, 'anonymous')

    // An object stored gzipped (a site's precompressed file) is answered as stored, whole, by range and from the cache, though fetch decodes what it knows.
    const gzipped = gzipSync(Buffer.from('<p>hello, compressed world</p>'.repeat(50)))
    assert.equal((await signer().fetch(`${nodes[0]!.url}/plain/page.html`, { method: 'PUT', body: gzipped, headers: { 'content-encoding': 'gzip', 'content-type': 'text/html' } })).status, 200)
    for (const round of ['from the node', 'from the cache']) {
      const got = await send('/plain/page.html')
      const bytes = Buffer.from(await got.arrayBuffer())
      assert.deepEqual([got.status, got.headers.get('content-encoding'), got.headers.get('content-length'), bytes.equals(gzipped)], [200, 'gzip', String(gzipped.length), true], round)
    }
    const head = await send('/plain/page.html', { method: 'HEAD' })
    assert.deepEqual([head.headers.get('content-encoding'), head.headers.get('content-length')], ['gzip', String(gzipped.length)])
    const ranged = await send('/plain/page.html', { headers: { range: 'bytes=0-9' } })
    assert.deepEqual([ranged.status, Buffer.from(await ranged.arrayBuffer()).equals(gzipped.subarray(0, 10))], [206, true])

    // With a TTL of 0, new metadata on the same bytes (a copy onto itself with REPLACE: the same ETag) is seen at once.
    const fresh = { ...mesh.bindings, S3MESH_CACHE: 'memory', S3MESH_CACHE_TTL_SECONDS: '0' }
    const sendFresh = async (path: string): Promise<Response> => await worker.fetch(await client.sign(`http://edge.test${path}`), fresh)
    assert.equal((await signer().fetch(`${nodes[0]!.url}/plain/meta.txt`, { method: 'PUT', body: 'same bytes', headers: { 'content-type': 'text/plain' } })).status, 200)
    const before304 = await sendFresh('/plain/meta.txt')
    assert.equal(before304.headers.get('content-type'), 'text/plain')
    await new Promise(resolve => setTimeout(resolve, 1100))
    const replaced = await signer().fetch(`${nodes[0]!.url}/plain/meta.txt`, { method: 'PUT', headers: { 'x-amz-copy-source': '/plain/meta.txt', 'x-amz-metadata-directive': 'REPLACE', 'content-type': 'text/markdown' } })
    assert.equal(replaced.status, 200)
    const after = await sendFresh('/plain/meta.txt')
    assert.equal(after.headers.get('etag'), before304.headers.get('etag'), 'the precondition: the same ETag')
    assert.equal(after.headers.get('content-type'), 'text/markdown')

    // A multipart object's part read through the edge, counted as S3 counts it: only for a read of one part.
    const started = await (await send('/plain/two-parts.bin?uploads', { method: 'POST' })).text()
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(started)![1]!
    const etags = []
    for (const [n, body] of [[1, new Uint8Array(5 * 1024 * 1024)], [2, 'the end']] as const) {
      etags.push((await send(`/plain/two-parts.bin?partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body })).headers.get('etag')!)
    }
    const parts = etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')
    assert.equal((await send(`/plain/two-parts.bin?uploadId=${encodeURIComponent(uploadId)}`, { method: 'POST', body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>` })).status, 200)
    const second = await send('/plain/two-parts.bin?partNumber=2', { method: 'HEAD' })
    assert.deepEqual([second.status, second.headers.get('content-length'), second.headers.get('x-amz-mp-parts-count')], [206, '7', '2'])
    const whole = await send('/plain/two-parts.bin', { method: 'HEAD' })
    assert.deepEqual([whole.status, whole.headers.get('content-length'), whole.headers.get('x-amz-mp-parts-count')], [200, String(5 * 1024 * 1024 + 7), null])
  })

  it('lists an upload\'s parts past 1,000, and uploads past 1,000, page by page as the nodes answer them (a client resuming from ListParts completes the whole object)', { timeout: 120_000 }, async () => {
    const worker = (await import(BUNDLE) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const client = signer()
    const send = async (path: string, init: RequestInit = {}): Promise<Response> => await worker.fetch(await client.sign(`http://edge.test${path}`, init), mesh.bindings)
    assert.equal((await send('/many', { method: 'PUT' })).status, 200)
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await (await send('/many/parts.bin?uploads', { method: 'POST' })).text())![1]!
    const PARTS = 1003
    for (let n = 1; n <= PARTS; n += 16) {
      await Promise.all(Array.from({ length: Math.min(16, PARTS - n + 1) }, async (_, i) => {
        assert.equal((await send(`/many/parts.bin?partNumber=${n + i}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body: `part ${n + i}` })).status, 200)
      }))
    }
    const numbers = (xml: string): number[] => [...xml.matchAll(/<Part><PartNumber>(\d+)<\/PartNumber>/g)].map(m => Number(m[1]))
    const first = await (await send(`/many/parts.bin?uploadId=${encodeURIComponent(uploadId)}`)).text()
    assert.deepEqual([numbers(first).length, /<IsTruncated>true<\/IsTruncated>/.test(first), /<NextPartNumberMarker>1000</.test(first)], [1000, true, true], 'the first page: 1,000 parts, truncated')
    const rest = await (await send(`/many/parts.bin?uploadId=${encodeURIComponent(uploadId)}&part-number-marker=1000`)).text()
    assert.deepEqual(numbers(rest), [1001, 1002, 1003], 'the rest after the marker')
    assert.match(rest, /<IsTruncated>false<\/IsTruncated>/)

    // Uploads begun on both nodes, more than a node answers in one page.
    const UPLOADS = 1004
    for (let u = 0; u < UPLOADS; u += 16) {
      await Promise.all(Array.from({ length: Math.min(16, UPLOADS - u) }, async (_, i) => {
        const node = nodes[(u + i) % 2]!
        assert.equal((await client.fetch(`${node.url}/many/up%20load/${String(u + i).padStart(4, '0')}?uploads`, { method: 'POST' })).status, 200)
      }))
    }
    const keys: string[] = []
    // A space in the prefix and the markers: the edge sends it on to the nodes as %20 (a `+` is read as a plus, and the signature fails).
    let query = 'uploads&prefix=up%20load%2F'
    for (let page = 0; page < 5; page++) {
      const xml = await (await send(`/many?${query}`)).text()
      keys.push(...[...xml.matchAll(/<Upload><Key>([^<]+)<\/Key>/g)].map(m => m[1]!))
      if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) break
      query = `uploads&prefix=up%20load%2F&key-marker=${encodeURIComponent(/<NextKeyMarker>([^<]*)</.exec(xml)![1]!)}&upload-id-marker=${encodeURIComponent(/<NextUploadIdMarker>([^<]*)</.exec(xml)![1]!)}`
    }
    assert.deepEqual(keys, Array.from({ length: UPLOADS }, (_, i) => `up load/${String(i).padStart(4, '0')}`), 'every upload, once, in order')
  })

  it('enforces the mesh\'s users and policies at the edge, and stops a disabled user within its TTL', async () => {
    const worker = (await import(BUNDLE) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const env = { ...mesh.bindings, S3MESH_CACHE: 'off', S3MESH_ACCESS_TTL_SECONDS: '1' }
    const root = signer()
    const iam = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'iam')
    const call = async (params: Record<string, string>): Promise<string> => {
      const res = await iam.fetch(`${nodes[0]!.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString() })
      const text = await res.text()
      assert.equal(res.status, 200, text)
      return text
    }
    await call({ Action: 'CreateUser', UserName: 'edge-reader' })
    await call({ Action: 'AttachUserPolicy', UserName: 'edge-reader', PolicyArn: 'readonly' })
    const xml = await call({ Action: 'CreateAccessKey', UserName: 'edge-reader' })
    const reader = s3Signer({ accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! })
    assert.equal((await worker.fetch(await root.sign('http://edge.test/edge-users', { method: 'PUT' }), env)).status, 200)
    assert.equal((await worker.fetch(await root.sign('http://edge.test/edge-users/a.txt', { method: 'PUT', body: 'for readers' }), env)).status, 200)
    const read = await worker.fetch(await reader.sign('http://edge.test/edge-users/a.txt'), env)
    assert.equal(await read.text(), 'for readers', 'the readonly user reads through the edge')
    const write = await worker.fetch(await reader.sign('http://edge.test/edge-users/b.txt', { method: 'PUT', body: 'no' }), env)
    assert.equal(write.status, 403)
    assert.match(await write.text(), /<Code>AccessDenied<\/Code>/)
    const iamAtEdge = await worker.fetch(await iam.sign('http://edge.test/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=ListUsers&Version=2010-05-08' }), env)
    assert.notEqual(iamAtEdge.status, 200, 'the edge does not serve IAM (its copy of the state is read-only)')
    // Temporary credentials issued by a node work at the edge (it asks a node to open the token).
    const readerKey = { accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! }
    const assumed = await s3Signer(readerKey, 'sts').fetch(`${nodes[1]!.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=edge&DurationSeconds=900&Version=2011-06-15' })
    const stsXml = await assumed.text()
    assert.equal(assumed.status, 200, stsXml)
    const temporary = s3Signer({ accessKeyId: /<AccessKeyId>([^<]+)/.exec(stsXml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(stsXml)![1]!, sessionToken: /<SessionToken>([^<]+)/.exec(stsXml)![1]! })
    assert.equal(await (await worker.fetch(await temporary.sign('http://edge.test/edge-users/a.txt'), env)).text(), 'for readers')
    assert.equal((await worker.fetch(await temporary.sign('http://edge.test/edge-users/c.txt', { method: 'PUT', body: 'no' }), env)).status, 403)
    await call({ Action: 'SetUserStatus', UserName: 'edge-reader', Status: 'Disabled' })
    await until('the edge refuses the disabled user', async () => (await worker.fetch(await reader.sign('http://edge.test/edge-users/a.txt'), env)).status === 403, 5_000)
    assert.equal((await worker.fetch(await temporary.sign('http://edge.test/edge-users/a.txt'), env)).status, 400, 'and its temporary credentials (InvalidToken)')
  })

  it('says what to fix when its bindings are missing (imported as the package export s3mesh/edge)', async () => {
    const specifier = 's3mesh/edge'
    const worker = (await import(specifier) as { default: { fetch: (r: Request, env: unknown) => Promise<Response> } }).default
    const res = await worker.fetch(new Request('http://edge.test/'), { S3MESH_NODES: 'ftp://nowhere' })
    assert.equal(res.status, 503)
    assert.match(await res.text(), /S3MESH_ACCESS_KEY, S3MESH_SECRET_KEY/)
  })
})
