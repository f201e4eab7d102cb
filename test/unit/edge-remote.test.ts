/**
 * The edge worker's parts that decide where a request goes and what is kept:
 * RemoteS3's failover (against real local HTTP servers), the memory cache's
 * budget, and the configuration's messages.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { edgeConfig, EdgeConfigError } from '../../src/edge/edge-config.js'
import { CacheApiCache, MemoryCache } from '../../src/gateway/object-cache.js'
import { RemoteS3 } from '../../src/gateway/remote-s3.js'

/** A node that answers every request with `status` and counts them. */
async function fakeNode (status: number, body = ''): Promise<{ url: string, hits: () => number, server: Server }> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    req.resume()
    req.on('end', () => { res.writeHead(status, { 'content-type': 'application/xml' }).end(body) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, server }
}

/** A port nothing listens on. */
async function closedPort (): Promise<string> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  await new Promise(resolve => s.close(resolve))
  return url
}

const keys = { accessKeyId: 'AK', secretAccessKey: 'SECRET' }

describe('RemoteS3', () => {
  const servers: Server[] = []
  after(() => { for (const s of servers) s.close() })
  let ok: Awaited<ReturnType<typeof fakeNode>>
  let busy: Awaited<ReturnType<typeof fakeNode>>
  let down: string
  before(async () => {
    ok = await fakeNode(200, '<ok/>')
    busy = await fakeNode(503, '<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>')
    servers.push(ok.server, busy.server)
    down = await closedPort()
  })

  it('passes over a node that refuses connections, then prefers the one that answered', async () => {
    let now = 0
    const remote = new RemoteS3({ endpoints: [down, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000, now: () => now })
    const first = await remote.send({ method: 'GET', bucket: 'b', key: 'k' })
    assert.equal(first.endpoint, 1)
    const before = ok.hits()
    assert.equal((await remote.send({ method: 'GET', bucket: 'b' })).endpoint, 1, 'sticks to the healthy node')
    assert.equal(ok.hits(), before + 1)
    now += 20_000
    assert.equal((await remote.send({ method: 'GET', bucket: 'b' })).endpoint, 1, 'still preferred after the pause')
  })

  it('tries the next node after a 503, but sends a stream to one node only', async () => {
    const remote = new RemoteS3({ endpoints: [busy.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    assert.equal((await remote.send({ method: 'PUT', bucket: 'b', key: 'k', body: new Uint8Array(10) })).endpoint, 1)
    const streaming = new RemoteS3({ endpoints: [busy.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    const okBefore = ok.hits()
    await assert.rejects(streaming.send({ method: 'PUT', bucket: 'b', key: 'k', body: new Response('0123456789').body!, size: 10 }),
      (err: unknown) => isS3Error(err, 'ServiceUnavailable'))
    assert.equal(ok.hits(), okBefore, 'a stream cannot be sent twice')
  })

  it('sends a conditional write or delete whose answer was lost to no other node (it may have been made); an unconditional one it does', async () => {
    // A node that takes the request and drops the connection before answering: whether it acted is not known.
    const dropping = createServer((req) => { req.resume(); req.on('end', () => { req.socket.destroy() }) })
    await new Promise<void>(resolve => dropping.listen(0, '127.0.0.1', resolve))
    servers.push(dropping)
    const endpoints = [`http://127.0.0.1:${(dropping.address() as AddressInfo).port}`, ok.url]
    const okBefore = ok.hits()
    for (const [method, headers] of [['DELETE', { 'if-match': '"abc"' }], ['PUT', { 'if-none-match': '*' }]] as Array<[string, Record<string, string>]>) {
      const remote = new RemoteS3({ endpoints, ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
      await assert.rejects(remote.send({ method, bucket: 'b', key: 'k', headers, ...(method === 'PUT' ? { body: 'x' } : {}) }), method)
    }
    assert.equal(ok.hits(), okBefore, 'not sent on')
    const remote = new RemoteS3({ endpoints, ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    assert.equal((await remote.send({ method: 'DELETE', bucket: 'b', key: 'k' })).endpoint, 1, 'an unconditional delete is')
    // Where the node surely did not act, it goes on: a connection refused, a 503 (not a proxy's 502 or 504).
    const refused = new RemoteS3({ endpoints: [down, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    assert.equal((await refused.send({ method: 'DELETE', bucket: 'b', key: 'k', headers: { 'if-match': '"abc"' } })).endpoint, 1, 'past a node that refused the connection')
    const overBusy = new RemoteS3({ endpoints: [busy.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    assert.equal((await overBusy.send({ method: 'DELETE', bucket: 'b', key: 'k', headers: { 'if-match': '"abc"' } })).endpoint, 1, 'past a 503')
    const gateway = await fakeNode(504, '')
    const timedOut = await fakeNode(522, '')
    servers.push(gateway.server, timedOut.server)
    // Cloudflare's 522 may come after the node had the request: a conditional one stays, another goes on.
    const afterTimeout = ok.hits()
    await assert.rejects(new RemoteS3({ endpoints: [timedOut.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 }).send({ method: 'DELETE', bucket: 'b', key: 'k', headers: { 'if-match': '"abc"' } }))
    assert.equal(ok.hits(), afterTimeout)
    assert.equal((await new RemoteS3({ endpoints: [timedOut.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 }).send({ method: 'DELETE', bucket: 'b', key: 'k' })).endpoint, 1)
    const behindProxy = new RemoteS3({ endpoints: [gateway.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    const before = ok.hits()
    await assert.rejects(behindProxy.send({ method: 'DELETE', bucket: 'b', key: 'k', headers: { 'if-match': '"abc"' } }))
    assert.equal(ok.hits(), before, 'not past a proxy\'s 504')
    // A refused connection as Deno and Bun report it (no cause with a code): past it too.
    const fetched = globalThis.fetch
    for (const thrown of [new TypeError('client error (Connect): tcp connect error: Connection refused (os error 111)'), Object.assign(new Error('Unable to connect'), { code: 'ConnectionRefused' })]) {
      let calls = 0
      globalThis.fetch = async (input, init) => { if (calls++ === 0) throw thrown; return await fetched(input, init) }
      try {
        const other = new RemoteS3({ endpoints: [gateway.url, ok.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
        assert.equal((await other.send({ method: 'DELETE', bucket: 'b', key: 'k', headers: { 'if-match': '"abc"' } })).endpoint, 1, thrown.message)
      } finally {
        globalThis.fetch = fetched
      }
    }
  })

  it('keeps a pinned request (a multipart upload) on its node, and says so when none answers', async () => {
    const remote = new RemoteS3({ endpoints: [ok.url, down], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    await assert.rejects(remote.send({ method: 'PUT', bucket: 'b', key: 'k', endpoint: 1, body: 'x' }), (err: unknown) => isS3Error(err, 'ServiceUnavailable') && err.message.includes('No mesh node answered'))
    await assert.rejects(remote.send({ method: 'GET', bucket: 'b', endpoint: 7 }), (err: unknown) => isS3Error(err, 'NoSuchUpload'))
  })

  it('gives up on a node that does not start answering within the timeout', async () => {
    const silent = createServer(() => { /* never answers */ })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    servers.push(silent)
    const remote = new RemoteS3({ endpoints: [`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, ok.url], ...keys, timeoutMs: 200, retryAfterMs: 10_000 })
    const t = Date.now()
    assert.equal((await remote.send({ method: 'GET', bucket: 'b' })).endpoint, 1)
    assert.ok(Date.now() - t < 2000)
    silent.closeAllConnections()
  })

  it('lets an upload take longer than the timeout (a slow link is not a dead node)', async () => {
    const slow = createServer((req, res) => { req.resume(); req.on('end', () => { setTimeout(() => { res.writeHead(200).end() }, 400) }) })
    await new Promise<void>(resolve => slow.listen(0, '127.0.0.1', resolve))
    servers.push(slow)
    const remote = new RemoteS3({ endpoints: [`http://127.0.0.1:${(slow.address() as AddressInfo).port}`, ok.url], ...keys, timeoutMs: 200, retryAfterMs: 10_000 })
    assert.equal((await remote.send({ method: 'PUT', bucket: 'b', key: 'k', body: 'slowly' })).endpoint, 0)
  })

  it('turns a node\'s S3 error into the same S3Error', async () => {
    const missing = await fakeNode(404, '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone &amp; forgotten</Message></Error>')
    servers.push(missing.server)
    const remote = new RemoteS3({ endpoints: [missing.url], ...keys, timeoutMs: 2000, retryAfterMs: 10_000 })
    await assert.rejects(remote.send({ method: 'GET', bucket: 'b', key: 'k' }), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.message === 'gone & forgotten')
  })
})

describe('MemoryCache', () => {
  const entry = (size: number, etag: string) => ({ info: { key: etag, size, etag, lastModified: new Date(0), sha256: '', metadata: { user: {} }, tags: {} }, bytes: new Uint8Array(size) })

  it('keeps within its budget, dropping the least recently used first', async () => {
    const cache = new MemoryCache(100)
    await cache.put('b', 'one', entry(40, 'one'))
    await cache.put('b', 'two', entry(40, 'two'))
    assert.equal((await cache.get('b', 'one'))?.info.etag, 'one', 'touch one: two is now the oldest')
    await cache.put('b', 'three', entry(40, 'three'))
    assert.equal(await cache.get('b', 'two'), undefined)
    assert.equal((await cache.get('b', 'one'))?.info.etag, 'one')
    await cache.put('b', 'huge', entry(101, 'huge'))
    assert.equal(await cache.get('b', 'huge'), undefined, 'larger than the whole budget: not kept')
    await cache.delete('b', 'one')
    assert.equal(await cache.get('b', 'one'), undefined)
  })
})

describe('CacheApiCache', () => {
  /** The Cache API's three calls over a Map, as a Workers zone's one shared cache. */
  function zoneCache (): Cache {
    const entries = new Map<string, Response>()
    return {
      match: async (url: string) => entries.get(url)?.clone(),
      put: async (url: string, res: Response) => { entries.set(url, res) },
      delete: async (url: string) => entries.delete(url),
    } as unknown as Cache
  }

  it('round-trips an object with its info, and keeps two meshes sharing one cache apart', async () => {
    const zone = zoneCache()
    const prod = new CacheApiCache(zone, 'https://prod-a:9000,https://prod-b:9000')
    const staging = new CacheApiCache(zone, 'https://staging:9000')
    const info = { key: 'a/ü b.txt', size: 3, etag: 'abc', lastModified: new Date('2026-11-26T10:00:00Z'), sha256: 'f'.repeat(64), metadata: { contentType: 'text/plain', user: { who: 'me' } }, tags: { t: '1' } }
    await prod.put('photos', 'a/ü b.txt', { info, bytes: new TextEncoder().encode('abc') })
    const back = await prod.get('photos', 'a/ü b.txt')
    assert.deepEqual(back?.info, info)
    assert.equal(new TextDecoder().decode(back?.bytes), 'abc')
    assert.equal(await staging.get('photos', 'a/ü b.txt'), undefined, 'another mesh\'s object of the same name')
    await prod.delete('photos', 'a/ü b.txt')
    assert.equal(await prod.get('photos', 'a/ü b.txt'), undefined)
  })

  it('does not give back an entry whose bytes are not the object\'s length (as an older release kept a gzip object: decoded)', async () => {
    const zone = zoneCache()
    const cache = new CacheApiCache(zone, 'mesh')
    const info = { key: 'k', size: 4, etag: 'e', lastModified: new Date('2026-11-26T10:00:00Z'), sha256: 'f'.repeat(64), metadata: { user: {}, contentEncoding: 'gzip' }, tags: {} }
    await cache.put('b', 'k', { info, bytes: new Uint8Array([1, 2, 3, 4, 5, 6]) })
    assert.equal(await cache.get('b', 'k'), undefined)
    await cache.put('b', 'k', { info, bytes: new Uint8Array([1, 2, 3, 4]) })
    assert.equal((await cache.get('b', 'k'))?.bytes.byteLength, 4)
  })

  it('gives back every date of an object\'s info as a Date: its expiration and its retention, which the answer\'s headers format', async () => {
    const cache = new CacheApiCache(zoneCache(), 'mesh')
    const info = {
      key: 'k', size: 1, etag: 'e', lastModified: new Date('2026-11-26T10:00:00Z'), sha256: 'f'.repeat(64), metadata: { user: {} }, tags: {},
      expiration: { date: new Date('2026-12-27T00:00:00Z'), ruleId: 'old' },
      lock: { retention: { mode: 'GOVERNANCE' as const, until: new Date('2027-01-01T00:00:00Z') }, legalHold: true },
    }
    await cache.put('b', 'k', { info, bytes: new Uint8Array([1]) })
    const back = (await cache.get('b', 'k'))!.info
    assert.deepEqual(back, info)
    assert.equal(back.expiration!.date.toUTCString(), 'Sun, 27 Dec 2026 00:00:00 GMT')
    assert.equal(back.lock!.retention!.until.toISOString(), '2027-01-01T00:00:00.000Z')
  })
})

describe('edgeConfig', () => {
  it('says which bindings are missing or wrong', () => {
    assert.throws(() => edgeConfig({}), (err: unknown) => err instanceof EdgeConfigError && /S3MESH_NODES, S3MESH_ACCESS_KEY, S3MESH_SECRET_KEY/.test(err.message))
    const base = { S3MESH_NODES: 'http://a:9000, http://b:9000', S3MESH_ACCESS_KEY: 'ak', S3MESH_SECRET_KEY: 'sk' }
    assert.deepEqual(edgeConfig(base).nodes, ['http://a:9000', 'http://b:9000'])
    assert.throws(() => edgeConfig({ ...base, S3MESH_NODES: 'a:9000' }), /must be http/)
    assert.throws(() => edgeConfig({ ...base, S3MESH_NODES: 'not a url' }), /is not a URL/)
    assert.throws(() => edgeConfig({ ...base, S3MESH_CACHE: 'disk' }), /S3MESH_CACHE must be/)
    assert.throws(() => edgeConfig({ ...base, S3MESH_CACHE_TTL_SECONDS: '-1' }), /S3MESH_CACHE_TTL_SECONDS must be a number/)
    assert.deepEqual(edgeConfig({ ...base, S3MESH_CLIENT_ACCESS_KEY: 'c', S3MESH_CLIENT_SECRET_KEY: 'cs' }).clients, { accessKeyId: 'c', secretAccessKey: 'cs' })
  })
})
