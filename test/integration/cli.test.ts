/** The `s3mesh` command as people run it: help, clear errors, banner, health, metrics, graceful stop. */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { sdkClient } from '../helpers/s3-client.js'
import { ACCESS_KEY, BIN, SECRET_KEY, startServerProcess } from '../helpers/server-process.js'
import { freeUdpPort } from '../../src/node/free-udp-port.js'
import { nodeV8Flags } from '../../bin/v8-flags.js'
import { keyFingerprint } from '../../src/node/banner.js'

/** Whether a TCP port is free on 127.0.0.1 now. */
async function tcpFree (port: number): Promise<boolean> {
  const s = createServer()
  return await new Promise<boolean>(resolve => {
    s.once('error', () => { resolve(false) })
    s.listen(port, '127.0.0.1', () => { s.close(() => { resolve(true) }) })
  })
}

function cli (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null, out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

describe('s3mesh CLI', () => {
  it('has --help for the program and the server command, and --version', () => {
    const top = cli(['--help'])
    assert.equal(top.status, 0)
    assert.match(top.out, /server \[options\] <dir>/)
    const server = cli(['server', '--help'])
    assert.equal(server.status, 0)
    assert.match(server.out, /--address <host:port>/)
    assert.match(server.out, /S3MESH_ROOT_USER/)
    assert.match(cli(['--version']).out, /^\d+\.\d+\.\d+/)
  })

  it('explains bad flags, bad addresses and bad credentials', () => {
    const flag = cli(['server', '/tmp/x', '--adress', '1'])
    assert.equal(flag.status, 2, 'a usage error (docs/running.md\'s exit codes)')
    assert.match(flag.out, /unknown option '--adress'/)
    assert.match(flag.out, /Did you mean --address\?/)
    const addr = cli(['server', '/tmp/x', '--address', 'localhost:99999'])
    assert.equal(addr.status, 2)
    assert.match(addr.out, /not an address: use host:port/)
    const missing = cli(['server'])
    assert.equal(missing.status, 2)
    assert.match(missing.out, /missing required argument 'dir'/)
    const creds = cli(['server', '/tmp/s3mesh-cli-creds'], { S3MESH_ROOT_USER: 'admin', S3MESH_ROOT_PASSWORD: 'short' })
    assert.equal(creds.status, 2)
    assert.match(creds.out, /S3MESH_ROOT_PASSWORD must be at least 8 characters/)
    // Keys no SigV4 request could sign with: refused at start, not left to fail every request.
    for (const [env, said] of [
      [{ S3MESH_ROOT_USER: 'ops/admin', S3MESH_ROOT_PASSWORD: 'long-enough-secret' }, /S3MESH_ROOT_USER may hold printable ASCII but \/ and the comma/],
      [{ S3MESH_ROOT_USER: 'ops,admin', S3MESH_ROOT_PASSWORD: 'long-enough-secret' }, /S3MESH_ROOT_USER may hold printable ASCII but \/ and the comma/],
      [{ S3MESH_ROOT_USER: 'admin', S3MESH_ROOT_PASSWORD: 'long-enough-secret\n' }, /S3MESH_ROOT_PASSWORD holds a control character \(a newline\?\)/],
      [{ S3MESH_ROOT_USER: '', S3MESH_ROOT_PASSWORD: 'long-enough-secret' }, /S3MESH_ROOT_USER is set but empty/],
    ] as const) {
      const bad = cli(['server', '/tmp/s3mesh-cli-creds'], env)
      assert.equal(bad.status, 2, JSON.stringify(env))
      assert.match(bad.out, said)
    }
  })

  it('says a data folder that is a file is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-cli-'))
    try {
      await writeFile(join(dir, 'data'), 'not a folder')
      const file = cli(['server', join(dir, 'data'), '--no-mesh', '--no-console'])
      assert.notEqual(file.status, 0)
      assert.match(file.out, /it is a file, not a folder/)
      assert.doesNotMatch(file.out, /^\s+at /m, 'no stack trace')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses an empty data folder name, a join address that is no multiaddr, a mesh address that is a name or leaves no port for WebSockets, and damaged files in .s3mesh, each with a message and no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-cli-'))
    const noStack = (r: { out: string }, what: string): void => { assert.doesNotMatch(r.out, /^\s+at |[A-Za-z]+Error:/m, `${what}: no stack trace`) }
    try {
      // An empty name is the current folder: its files would be served as buckets.
      // Run in the test's own folder: were it served, nothing of the checkout would be touched.
      const emptyRun = spawnSync(process.execPath, [BIN, 'server', '', '--address', '127.0.0.1:0', '--no-mesh', '--no-console'], { cwd: dir, encoding: 'utf8', timeout: 20_000 })
      const empty = { status: emptyRun.status, out: `${emptyRun.stdout}${emptyRun.stderr}` }
      assert.equal(empty.status, 2)
      assert.match(empty.out, /Give a data folder/)
      noStack(empty, 'empty')
      const named = cli(['server', join(dir, 'a'), '--mesh-address', 'nosuchhost.invalid:39543'])
      assert.notEqual(named.status, 0)
      assert.match(named.out, /--mesh-address "nosuchhost\.invalid:39543" needs an IPv4 address/)
      for (const join_ of ['http://127.0.0.1:9000', '', '/ip4/127.0.0.1/tcp/9100/p2p/garbage']) {
        const garbage = cli(['server', join(dir, 'a'), '--join', join_])
        assert.notEqual(garbage.status, 0, join_)
        assert.match(garbage.out, /--join ".*" is not a member's multiaddr/, `${join_}: refused at start, not retried forever`)
      }
      const v6 = cli(['server', join(dir, 'a'), '--mesh-address', '[::]:9100'])
      assert.notEqual(v6.status, 0)
      assert.match(v6.out, /needs an IPv4 address/)
      const last = cli(['server', join(dir, 'a'), '--mesh-address', '127.0.0.1:65535'])
      assert.notEqual(last.status, 0)
      assert.match(last.out, /there is none after 65535/)
      const args = ['--address', '127.0.0.1:0', '--mesh-address', '127.0.0.1:0', '--console-address', '127.0.0.1:0', '--no-mesh']
      for (const [file, content, message] of [['format.json', '{garbage', /format\.json is not readable JSON/], ['credentials.json', '{garbage', /credentials\.json is damaged \(not JSON\)/], ['credentials.json', 'null', /credentials\.json is damaged/]] as const) {
        const data = join(dir, `${file}-${content}`)
        await mkdir(join(data, '.s3mesh'), { recursive: true })
        await writeFile(join(data, '.s3mesh', file), content)
        // Without root keys in the environment, so that the kept credentials are read.
        const { S3MESH_ROOT_USER: _u, S3MESH_ROOT_PASSWORD: _p, ...env } = process.env
        const run = spawnSync(process.execPath, [BIN, 'server', data, ...args], { env, encoding: 'utf8', timeout: 20_000 })
        const r = { status: run.status, out: `${run.stdout}${run.stderr}` }
        assert.equal(r.status, 1, `${file}: ${r.out}`)
        assert.match(r.out, message)
        noStack(r, file)
      }
      const sysFile = join(dir, 'sysfile')
      await mkdir(sysFile)
      await writeFile(join(sysFile, '.s3mesh'), 'x')
      const r = cli(['server', sysFile, ...args])
      assert.equal(r.status, 1, r.out)
      assert.match(r.out, /\.s3mesh is a file/)
      noStack(r, '.s3mesh a file')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('takes a list of cluster keys for rotation, and explains a malformed one', async () => {
    const [k1, k2] = [randomBytes(32).toString('base64'), randomBytes(16).toString('base64')]
    const server = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: `${k1},${k2}` } })
    try {
      // A key given in the environment is not printed: its fingerprint says which one seals.
      assert.match(server.output(), new RegExp(`Cluster key: \\(not printed; the one that seals has fingerprint ${keyFingerprint(k1)}\\)`), 'the first key is the one that seals')
      assert.ok(!server.output().includes(k1) && !server.output().includes(k2), 'neither key is printed')
    } finally {
      await server.stop()
    }
    const bad = cli(['server', '/tmp/s3mesh-cli-badkey', '--address', '127.0.0.1:0', '--mesh-address', '127.0.0.1:0'], { S3MESH_CLUSTER_KEY: `${k1},not-base64!` })
    assert.equal(bad.status, 2)
    assert.match(bad.out, /S3MESH_CLUSTER_KEY must be base64 of 16, 24 or 32 bytes/)
  })

  it('runs a server with the V8 flags bin/v8-flags.js gives this Node (the external-memory one on 24, not on 22, whose node would refuse it), one given in NODE_OPTIONS winning', { skip: typeof process.execve === 'function' ? false : 'this Node cannot restart itself with flags (process.execve came in 22.15)' }, async () => {
    const external = '--external-memory-accounted-in-global-limit'
    const major = Number(process.versions.node.split('.')[0])
    if (major === 22 || major === 24) assert.equal(nodeV8Flags().includes(external), major === 24)
    const argvOf = async (pid: number): Promise<string[]> => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    const server = await startServerProcess()
    try {
      const argv = await argvOf(server.child.pid!)
      for (const flag of nodeV8Flags()) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`)
    } finally {
      await server.stop()
    }
    const own = await startServerProcess({ env: { NODE_OPTIONS: '--max-semi-space-size=8' } })
    try {
      const argv = await argvOf(own.child.pid!)
      assert.ok(!argv.includes('--max-semi-space-size=4'), argv.join(' '))
      assert.ok(argv.includes('--heap-growing-percent=100'), argv.join(' '))
    } finally {
      await own.stop()
    }
  })

  it('refuses a data folder that is a file or cannot be made, and a port in use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-cli-'))
    try {
      await writeFile(join(dir, 'file'), 'x')
      const notDir = cli(['server', join(dir, 'file'), '--address', '127.0.0.1:0'])
      assert.equal(notDir.status, 1)
      assert.match(notDir.out, /Cannot use .* as the data folder/)
      // Where the kernel lets no folder be made under one that exists (Node's recursive mkdir never settles there).
      const proc = cli(['server', '/proc/1/s3mesh-data/x', '--address', '127.0.0.1:0'])
      assert.equal(proc.status, 1, proc.out)
      assert.match(proc.out, /Cannot use \/proc\/1\/s3mesh-data\/x as the data folder: no folder can be made there\./)
      const blocker = createServer()
      await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
      const port = (blocker.address() as { port: number }).port
      const busy = cli(['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`])
      blocker.close()
      assert.equal(busy.status, 1)
      assert.match(busy.out, new RegExp(`Port ${port} on 127.0.0.1 \\(the S3 API\\) is already in use`))
      assert.doesNotMatch(busy.out, /at .*\.js:\d+/, 'no stack trace')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses flags that give two of its own listeners one port before anything starts, naming both; takes --domain before the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-cli-'))
    try {
      const clash = cli(['server', join(dir, 'data'), '--address', '127.0.0.1:39101', '--mesh-address', '127.0.0.1:39100'])
      assert.equal(clash.status, 2, clash.out)
      assert.match(clash.out, /--address 127\.0\.0\.1:39101 and --mesh-address 127\.0\.0\.1:39100 \(its WebSockets, on the next port\) would both listen on port 39101: give one of them another port\./)
      assert.ok(!existsSync(join(dir, 'data')), 'nothing was started: not even the data folder made')
      const relay = cli(['relay', join(dir, 'relay'), '--join', '/ip4/127.0.0.1/tcp/9100/p2p/12D3KooWGRUVh9Ly6o8vFUHb2eeVkAEqRMeYMJKumRvtHbe8QxiL', '--address', '127.0.0.1:39300', '--mesh-address', '127.0.0.1:39300'])
      assert.equal(relay.status, 2, relay.out)
      assert.match(relay.out, /--address 127\.0\.0\.1:39300 and --mesh-address 127\.0\.0\.1:39300 would both listen/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    // --domain took every word after it, the data folder too: given before the folder, the folder is the folder.
    const file = join(tmpdir(), `s3mesh-cli-file-${randomBytes(4).toString('hex')}`)
    await writeFile(file, 'x')
    try {
      const before = cli(['server', '--domain', 's3.example.com', file, '--address', '127.0.0.1:0'])
      assert.equal(before.status, 1, before.out)
      assert.match(before.out, /Cannot use .* as the data folder/, 'the folder after --domain is read as the folder')
    } finally {
      await rm(file, { force: true })
    }
    // Several domains: repeated, or separated by commas.
    const node = await startServerProcess({ args: ['--domain', 's3.example.com,files.example.com', '--domain', 'other.example.com'] })
    try {
      const hosted = async (host: string): Promise<string> => await new Promise((resolve, reject) => {
        const u = new URL(node.url)
        request({ host: u.hostname, port: u.port, path: '/', headers: { host } }, res => { let body = ''; res.on('data', (d: Buffer) => { body += d.toString() }); res.on('end', () => { resolve(body) }) }).on('error', reject).end()
      })
      for (const domain of ['s3.example.com', 'files.example.com', 'other.example.com']) {
        assert.match(await hosted(`photos.${domain}`), /s3:ListBucket on arn:aws:s3:::photos/, `${domain}: a virtual-hosted request for the bucket photos`)
      }
      assert.match(await hosted('photos.elsewhere.example.com'), /Listing buckets needs a signed request/, 'another domain: path-style')
    } finally {
      await node.stop()
    }
  })

  it('says which flags --no-mesh or --no-console leave unused', async () => {
    // A data folder that is a file: the node stops right after the warning.
    const file = join(tmpdir(), `s3mesh-cli-file-${randomBytes(4).toString('hex')}`)
    await writeFile(file, 'x')
    try {
      const mesh = cli(['server', file, '--no-mesh', '--join', '/ip4/127.0.0.1/tcp/9100/p2p/12D3KooWGRUVh9Ly6o8vFUHb2eeVkAEqRMeYMJKumRvtHbe8QxiL', '--replicas', '3', '--no-console', '--console-address', '127.0.0.1:39555'])
      assert.match(mesh.out, /s3mesh: --join, --replicas do nothing with --no-mesh: ignored\./)
      assert.match(mesh.out, /s3mesh: --console-address does nothing with --no-console: ignored\./)
      assert.match(mesh.out, /Cannot use .* as the data folder/, 'and it goes on as asked')
      const quiet = cli(['server', file, '--no-mesh', '--address', '127.0.0.1:0'])
      assert.doesNotMatch(quiet.out, /does nothing/, 'a flag the mesh does not take is not named')
    } finally {
      await rm(file, { force: true })
    }
  })

  it('refuses a mesh port whose UDP port (WebRTC-direct) is taken, saying how to go on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-cli-'))
    const blocker = createSocket('udp4')
    try {
      // A UDP port held on every address whose TCP port and the next one are free: only WebRTC-direct can fail on it.
      let port = 0
      for (let i = 0; i < 20 && port === 0; i++) {
        const p = await freeUdpPort()
        if (p < 65535 && await tcpFree(p) && await tcpFree(p + 1)) port = p
      }
      assert.notEqual(port, 0, 'a UDP port with both TCP ports free')
      await new Promise<void>((resolve, reject) => { blocker.once('error', reject); blocker.bind(port, resolve) })
      const busy = cli(['server', join(dir, 'data'), '--address', '127.0.0.1:0', '--console-address', '127.0.0.1:0', '--mesh-address', `127.0.0.1:${port}`])
      assert.equal(busy.status, 1, busy.out)
      assert.match(busy.out, new RegExp(`The UDP port ${port} on 127.0.0.1 \\(WebRTC-direct\\) is in use: pick another with --mesh-address 127.0.0.1:<port>, or start with --no-webrtc-direct`))
      assert.doesNotMatch(busy.out, /at .*\.js:\d+/, 'no stack trace')
    } finally {
      blocker.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a read-only data folder with a message that says so', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-ro-'))
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { stdio: 'pipe' })
      } catch (err) {
        if (process.env.CI === 'true') throw new Error(`CI must be able to mount a tmpfs (run as root): ${String(err)}`)
        t.skip('cannot mount a read-only tmpfs here (needs root)')
        return
      }
      const ro = cli(['server', dir, '--address', '127.0.0.1:0'])
      assert.equal(ro.status, 1)
      assert.match(ro.out, /Cannot use .* as the data folder: it is on a read-only file system\. Choose a folder this user can write to\./)
    } finally {
      try { execFileSync('umount', [dir], { stdio: 'pipe' }) } catch {}
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('generates root credentials once, keeps them 0600, and prints a ready-to-paste banner', async () => {
    const server = await startServerProcess({ env: { S3MESH_ROOT_USER: undefined, S3MESH_ROOT_PASSWORD: undefined } })
    try {
      const file = join(server.dataDir, '.s3mesh', 'credentials.json')
      const saved = JSON.parse(await readFile(file, 'utf8')) as { accessKey: string, secretKey: string }
      assert.equal((await stat(file)).mode & 0o777, 0o600)
      const out = server.output()
      assert.match(out, new RegExp(`Access key:\\s+${saved.accessKey}`))
      assert.ok(out.includes(saved.secretKey))
      assert.match(out, /aws --endpoint-url http:\/\/127\.0\.0\.1:\d+ s3 mb s3:\/\/photos/)
      await server.stop({ remove: false })
      const again = await startServerProcess({ dataDir: server.dataDir, env: { S3MESH_ROOT_USER: undefined, S3MESH_ROOT_PASSWORD: undefined } })
      assert.match(again.output(), new RegExp(`Access key:\\s+${saved.accessKey}`))
      await again.stop()
    } finally {
      await server.stop()
    }
  })

  it('answers the mesh API to curl --aws-sigv4 with the root keys, as docs/membership.md shows, and refuses a wrong secret', async () => {
    const server = await startServerProcess()
    try {
      const curl = (secret: string): ReturnType<typeof spawnSync> => spawnSync('curl', ['-sS', '-w', '\\n%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${ACCESS_KEY}:${secret}`, `${server.url}/_s3mesh/v1/members`], { encoding: 'utf8' })
      const ok = curl(SECRET_KEY)
      const [body, status] = String(ok.stdout).split('\n')
      assert.equal(status, '200', String(ok.stdout) + String(ok.stderr))
      const members = (JSON.parse(body!) as { members: Array<{ self?: boolean }> }).members
      assert.equal(members.length, 1)
      assert.equal(members[0]!.self, true)
      assert.match(String(curl('not-the-secret').stdout), /<Code>SignatureDoesNotMatch<\/Code>[\s\S]*\n403$/)
    } finally {
      await server.stop()
    }
  })

  it('serves health and Prometheus metrics, refuses a second server on the same folder, and stops gracefully', async () => {
    const server = await startServerProcess()
    const s3 = sdkClient(server.url)
    try {
      assert.equal((await fetch(`${server.url}/health/live`)).status, 200)
      assert.equal((await fetch(`${server.url}/health/ready`)).status, 200)
      await s3.send(new CreateBucketCommand({ Bucket: 'metered' }))
      await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'k', Body: 'x'.repeat(1000) }))
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      assert.match(metrics, /s3mesh_http_requests_total\{operation="PutObject",status="200"\} 1/)
      assert.match(metrics, /s3mesh_http_request_duration_seconds_bucket\{le="[^"]+",operation="CreateBucket"\}/)
      assert.match(metrics, /s3mesh_http_received_bytes_total \d+/)
      // What is named a total is a counter, and every counter is named a total (Prometheus' naming rules);
      // prom-client's own process and Node.js metrics are left out (it names three gauges *_total).
      const types = [...metrics.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(m => [m[1]!, m[2]!] as const)
        .filter(([name]) => !name.startsWith('s3mesh_nodejs_') && !name.startsWith('s3mesh_process_'))
      assert.ok(types.some(([name]) => name === 's3mesh_repaired_objects_total'), 'the mesh metrics are there')
      assert.deepEqual(types.filter(([name, type]) => name.endsWith('_total') !== (type === 'counter')), [])
      const second = cli(['server', server.dataDir, '--address', '127.0.0.1:0'])
      assert.equal(second.status, 1)
      assert.match(second.out, /in use by another s3mesh process \(pid \d+\)/)
      assert.equal(await server.stop({ remove: false }), 0, 'SIGTERM ends with exit code 0')
      assert.match(server.output(), /SIGTERM, finishing requests in flight/)
      assert.equal(existsSync(join(server.dataDir, '.s3mesh', 'lock')), false, 'the lock is released')
    } finally {
      s3.destroy()
      await server.stop()
    }
  })
})
