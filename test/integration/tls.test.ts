/**
 * --certs-dir as MinIO lays it out: S3, the console and the mesh's WebSockets
 * over TLS on their usual ports, a certificate reloaded on SIGHUP without
 * dropping what is open, and a start refused with the file's name when the
 * pair is wrong. The CA is made with Debian's openssl for each run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { Agent, request } from 'node:https'
import { connect, type PeerCertificate } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { WebSocket } from 'ws'
import { ACCESS_KEY, BIN, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { issueCertificate, makeTestCa, type TestCa } from '../helpers/test-ca.js'
import { until } from '../helpers/until.js'

function start (args: string[]): { status: number | null, out: string } {
  const r = spawnSync(process.execPath, [BIN, 'server', args[0]!, '--address', '127.0.0.1:0', '--no-mesh', '--no-console', ...args.slice(1)], {
    env: { ...process.env, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY }, encoding: 'utf8', timeout: 20_000,
  })
  return { status: r.status, out: r.stdout + r.stderr }
}

/** The certificate a fresh TLS connection to host:port is shown (trusting `ca`). */
async function certificateAt (port: number, ca: string): Promise<PeerCertificate> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const cert = socket.getPeerCertificate()
      socket.end()
      resolve(cert)
    })
    socket.once('error', reject)
  })
}

/** GET over a given https agent; tells whether the request went over a socket the agent had kept open. */
async function get (url: string, agent: Agent): Promise<{ status: number, body: string, reused: boolean }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }) })
    })
    req.once('error', reject)
    req.end()
  })
}

describe('TLS (--certs-dir)', () => {
  let ca: TestCa
  let caPem: string
  let work: string
  before(async () => {
    ca = await makeTestCa()
    caPem = await readFile(ca.certFile, 'utf8')
    work = await mkdtemp(join(tmpdir(), 's3mesh-tls-'))
  })
  after(async () => {
    await rm(ca.dir, { recursive: true, force: true })
    await rm(work, { recursive: true, force: true })
  })

  it('refuses to start, naming the file, when the certificate or key is missing, unreadable, not PEM, mismatched or expired', async () => {
    const data = join(work, 'refused-data')
    const missing = start([data, '--certs-dir', join(work, 'nowhere')])
    assert.equal(missing.status, 2, missing.out)
    assert.match(missing.out, /nowhere\/public\.crt is missing/)

    const good = await issueCertificate(ca, join(work, 'good'), ['localhost', '127.0.0.1'])
    const other = await issueCertificate(ca, join(work, 'other'), ['localhost'])
    const mixed = join(work, 'mixed')
    await mkdir(mixed)
    await writeFile(join(mixed, 'public.crt'), await readFile(join(good, 'public.crt')))
    await writeFile(join(mixed, 'private.key'), await readFile(join(other, 'private.key')))
    const mismatched = start([data, '--certs-dir', mixed])
    assert.equal(mismatched.status, 2, mismatched.out)
    assert.match(mismatched.out, /mixed\/private\.key is not the key of the certificate in .*mixed\/public\.crt/)

    await writeFile(join(mixed, 'private.key'), 'not a key\n')
    const garbage = start([data, '--certs-dir', mixed])
    assert.equal(garbage.status, 2, garbage.out)
    assert.match(garbage.out, /mixed\/private\.key is not a PEM private key/)

    await writeFile(join(mixed, 'public.crt'), 'not a certificate\n')
    const badCert = start([data, '--certs-dir', mixed])
    assert.equal(badCert.status, 2, badCert.out)
    assert.match(badCert.out, /mixed\/public\.crt is not a PEM certificate/)

    // Root reads any file, so an unreadable key can only be shown to another user (CI runs as root).
    if (process.getuid?.() !== 0) {
      const locked = join(work, 'locked')
      await issueCertificate(ca, locked, ['localhost'])
      await chmod(join(locked, 'private.key'), 0o000)
      const r = start([data, '--certs-dir', locked])
      assert.equal(r.status, 2, r.out)
      assert.match(r.out, /locked\/private\.key cannot be read/)
    }

    const expired = await issueCertificate(ca, join(work, 'expired'), ['localhost'], { days: -1 })
    const old = start([data, '--certs-dir', expired])
    assert.equal(old.status, 2, old.out)
    assert.match(old.out, /expired\/public\.crt expired on/)
    // Nothing started: no port was taken and the folder holds no lock.
    assert.doesNotMatch(old.out, /S3 API:/)
  })

  describe('a node with a certificate', () => {
    let node: ServerProcess
    let certs: string
    before(async () => {
      certs = await issueCertificate(ca, join(work, 'node'), ['localhost', '127.0.0.1'], { trust: true })
      node = await startServerProcess({ args: ['--certs-dir', certs] })
    })
    after(async () => { await node.stop() })

    it('prints https URLs and a wss mesh address, and serves S3 to the AWS SDK over TLS only', async () => {
      assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.match(node.consoleUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.match(node.output(), /\/ip4\/127\.0\.0\.1\/tcp\/\d+\/tls\/ws\/p2p\//)
      assert.doesNotMatch(node.output(), /\/tcp\/\d+\/ws\//, 'no plain WebSockets address')
      assert.match(node.output(), /TLS:\s+.*public\.crt for localhost, 127\.0\.0\.1/)

      const s3 = new S3Client({
        endpoint: node.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: caPem }) }),
      })
      await s3.send(new CreateBucketCommand({ Bucket: 'secure' }))
      await s3.send(new PutObjectCommand({ Bucket: 'secure', Key: 'a.txt', Body: 'over tls' }))
      const got = await s3.send(new GetObjectCommand({ Bucket: 'secure', Key: 'a.txt' }))
      assert.equal(await got.Body!.transformToString(), 'over tls')

      // A client that does not trust the CA is refused by TLS itself.
      const untrusted = new S3Client({ endpoint: node.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } })
      await assert.rejects(untrusted.send(new GetObjectCommand({ Bucket: 'secure', Key: 'a.txt' })), /self.signed|unable to (verify|get local issuer)/i)
      // Plain HTTP on the same port gets no answer.
      await assert.rejects(fetch(node.url.replace('https:', 'http:') + '/health/live'))

      const agent = new Agent({ ca: caPem })
      const page = await get(node.consoleUrl + '/', agent)
      assert.equal(page.status, 200)
      assert.match(page.body, /<html/i)
      assert.equal((await get(node.url + '/health/ready', agent)).status, 200)
    })

    it('speaks wss on the mesh WebSockets port, and another node joins through it', async (t) => {
      const wss = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/tls\/ws\/p2p\/\S+/.exec(node.output())!
      const port = Number(wss[1])
      const cert = await certificateAt(port, caPem)
      assert.match(cert.subjectaltname ?? '', /DNS:localhost/)
      // Plain ws:// on that port is refused before it opens (the same client opens wss:// below).
      const plain = new WebSocket(`ws://127.0.0.1:${port}`)
      const outcome = await new Promise<string>((resolve) => { plain.once('open', () => { resolve('open') }); plain.once('error', (err) => { resolve(`error: ${err.message}`) }) })
      assert.match(outcome, /^error/, 'plain ws:// is not answered')

      const key = /Cluster key:\s+(\S+)/.exec(node.output())![1]!
      // The joining node trusts the test CA through its own --certs-dir's CAs/ folder (Node 22.19+ and 24.5+ can
      // add to their CAs at run time; older lines need NODE_EXTRA_CA_CERTS, which this test then uses instead).
      const canTrust = typeof (await import('node:tls') as { setDefaultCACertificates?: unknown }).setDefaultCACertificates === 'function'
      const own = await issueCertificate(ca, join(work, 'second'), ['localhost', '127.0.0.1'], { trust: true })
      const second = await startServerProcess({ args: ['--join', wss[0], '--certs-dir', own], env: { S3MESH_CLUSTER_KEY: key, ...(canTrust ? {} : { NODE_EXTRA_CA_CERTS: ca.certFile }) } })
      t.after(async () => { await second.stop() })
      const agent = new Agent({ ca: caPem })
      await until('the node that joined over wss sees two live members', async () => (await get(`${second.url}/metrics`, agent)).body.includes('s3mesh_members{state="alive"} 2'), 20_000)
      assert.doesNotMatch(second.output(), /cannot add .*CAs/, 'it trusted the CAs folder itself')
    })

    it('serves a new certificate from the next connection on after SIGHUP, keeps open connections, and keeps the old one when the new pair is bad', async () => {
      const agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 1 })
      const first = await get(node.url + '/health/ready', agent)
      assert.equal(first.status, 200)
      const before = await certificateAt(node.port, caPem)
      const wssPort = Number(/\/tcp\/(\d+)\/tls\/ws\//.exec(node.output())![1])
      const ws = new WebSocket(`wss://127.0.0.1:${wssPort}`, { ca: caPem })
      await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })

      await issueCertificate(ca, certs, ['localhost', '127.0.0.1', 'renewed.example'], { trust: true })
      const logged = node.output().length
      node.child.kill('SIGHUP')
      await until('the reload is logged', () => node.output().slice(logged).includes('SIGHUP, serving the certificate'), 5000)

      const renewed = await certificateAt(node.port, caPem)
      assert.notEqual(renewed.fingerprint256, before.fingerprint256, 'a new connection is shown the new certificate')
      assert.match(renewed.subjectaltname ?? '', /renewed\.example/)
      assert.match((await certificateAt(wssPort, caPem)).subjectaltname ?? '', /renewed\.example/, 'the wss port too')
      const consolePort = Number(new URL(node.consoleUrl!).port)
      assert.match((await certificateAt(consolePort, caPem)).subjectaltname ?? '', /renewed\.example/, 'and the console')
      const again = await get(node.url + '/health/ready', agent)
      assert.equal(again.status, 200)
      assert.equal(again.reused, true, 'the keep-alive connection opened before the reload still answers')
      assert.equal(ws.readyState, WebSocket.OPEN, 'the WebSocket opened before the reload is still open')
      ws.close()

      await writeFile(join(certs, 'private.key'), 'garbage\n')
      const mark = node.output().length
      node.child.kill('SIGHUP')
      await until('the failed reload is logged', () => node.output().slice(mark).includes('certificate not reloaded'), 5000)
      assert.match(node.output().slice(mark), /private\.key is not a PEM private key/)
      assert.equal((await certificateAt(node.port, caPem)).fingerprint256, renewed.fingerprint256, 'still the last good certificate')
      agent.destroy()
    })
  })
})
