import { createServer, type IncomingMessage, type Server, type ServerOptions as HttpServerOptions, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { mkdir, access, constants, stat } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { dirname, join, resolve } from 'node:path'
import { createS3Handler } from '../s3-shim/index.js'
import { CliError } from './cli-error.js'
import { interfaceHosts } from './address.js'
import { createConsoleServer } from './console-server.js'
import { codeOf } from './disk-files.js'
import { DiskLayout } from './disk-layout.js'
import { DiskStore } from './disk-store.js'
import { lockDataDir } from './data-dir-lock.js'
import { expectsContinue, toNodeListener } from './http-adapter.js'
import { ServerMetrics } from './metrics.js'
import { nodeHashes } from './node-hashes.js'
import { withMeshApi } from '../gateway/mesh-api.js'
import { connectionKinds } from '../core/wire/transport-kind.js'
import { MemberStats, type StatsKind } from '../core/mesh/member-stats.js'
import { S3Error } from '../core/errors.js'
import { startMesh, type CircuitLimits, type PresetName, type RunningMesh } from './mesh.js'
import { errorResponse } from '../s3-shim/respond.js'
import type { S3Handler } from '../s3-shim/index.js'
import { loadRootCredentials, type RootCredentials } from './root-credentials.js'
import { AccessControl } from '../core/access/access-control.js'
import { AccessState } from '../core/access/access-state.js'
import { SessionTokens } from '../core/access/session-token.js'
import { randomId } from '../core/ids.js'
import { rootSealer } from '../core/access/root-sealer.js'
import { AccessFile } from './access-file.js'
import { nodeAead } from './node-aead.js'
import { loadCertificates, trustCertificateAuthorities, type Certificates } from './certs.js'
import { LifecycleRunner } from '../core/lifecycle-runner.js'
import type { ObjectStore } from '../core/object-store.js'

export interface ServerOptions {
  /** The data folder: buckets are its folders, objects their files. */
  dataDir: string
  /** Interface to listen on; 127.0.0.1 keeps the node private to this machine, 0.0.0.0 opens it to the network. */
  host: string
  /** TCP port; 0 picks a free one. */
  port: number
  /** Region reported to clients (signatures for any region are accepted). */
  region?: string
  /** fsync before acknowledging writes (default true). */
  fsync?: boolean
  /** Time between scans of the bucket folders for files placed by hand (ms; default SCAN_INTERVAL_MS; 0: at start only). */
  scanIntervalMs?: number
  /** Time between passes of the buckets' lifecycle rules (ms; default LIFECYCLE_INTERVAL_MS). */
  lifecycleIntervalMs?: number
  /** Environment to read S3MESH_ROOT_USER / S3MESH_ROOT_PASSWORD from. */
  env?: NodeJS.ProcessEnv
  /** Host names for virtual-hosted-style requests (`bucket.<domain>`). */
  domains?: string[]
  /** Join or start a mesh; without it the node serves alone. */
  mesh?: { host: string, port: number, join: string[], cluster: string, preset: PresetName, version: string, replicas?: number, accessSyncMs?: number, announce?: string[], circuits?: CircuitLimits, webrtcDirect?: boolean }
  /**
   * durable (default) stores objects; relay (`s3mesh relay`) relays for tabs,
   * keeps the member list and admits tabs, holds no object and answers S3
   * requests with NotImplemented naming the storage nodes.
   */
  role?: 'durable' | 'relay'
  /** The S3 endpoint as clients reach it, when that is not where it listens (behind a reverse proxy or NAT): in the banner and told to the mesh. */
  publicUrl?: string
  /** Where the console, the page library (/s3mesh.js) and the service worker (/s3mesh-sw.js) are served; none without it. */
  console?: { host: string, port: number }
  /**
   * A folder as MinIO's --certs-dir: public.crt and private.key (PEM), CAs/
   * for peers' CAs. S3, the console and the mesh's WebSockets then speak TLS
   * only (https, wss) on the same ports.
   */
  certsDir?: string
}

export interface RunningServer {
  /** Where S3 answers: the listen address, or on 0.0.0.0 the first interface others can reach. */
  url: string
  /** Every URL it answers on (each interface's, when listening on all of them). */
  urls: string[]
  /** --public-url, when given. */
  publicUrl?: string
  /** durable, or relay (holds no objects). */
  role: 'durable' | 'relay'
  credentials: RootCredentials
  /** Users, keys, policies and sessions. */
  access: AccessControl
  store: DiskStore
  metrics: ServerMetrics
  mesh?: RunningMesh
  /** The console's address, when it is served. */
  consoleUrl?: string
  /** The certificate served, when --certs-dir was given. */
  certificates?: Certificates
  /**
   * Reads the certificate and key again (SIGHUP) and serves them from the next
   * connection on; open connections keep theirs. A bad pair throws (naming
   * the file) and the old one stays.
   */
  reloadCertificates (): Promise<Certificates>
  /** Stops accepting connections, lets requests in flight finish (up to `graceMs`), then releases the data folder. */
  close (graceMs?: number): Promise<void>
}

/**
 * mkdir -p, a folder at a time: Node's recursive mkdir never settles where
 * the kernel answers ENOENT under a folder that exists (`/proc/1/x`).
 */
async function makeFolders (path: string): Promise<void> {
  const missing: string[] = []
  for (let p = resolve(path); !(await stat(p).then(() => true, () => false)); p = dirname(p)) {
    missing.unshift(p)
    if (dirname(p) === p) break
  }
  for (const p of missing) await mkdir(p).catch((err: unknown) => { if (codeOf(err) !== 'EEXIST') throw err })
}

async function prepareDataDir (dataDir: string): Promise<void> {
  const found = await stat(dataDir).catch(() => undefined)
  if (found !== undefined && !found.isDirectory()) throw new CliError(`Cannot use ${dataDir} as the data folder: it is a file, not a folder. Give a folder (it is made if missing).`)
  try {
    await makeFolders(dataDir)
    await access(dataDir, constants.W_OK | constants.R_OK | constants.X_OK)
  } catch (err) {
    const why = codeOf(err) === 'EROFS' ? 'it is on a read-only file system' : codeOf(err) === 'EACCES' || codeOf(err) === 'EPERM' ? 'permission denied' : codeOf(err) === 'ENOTDIR' || codeOf(err) === 'EEXIST' ? 'it is not a folder' : codeOf(err) === 'ENOENT' ? 'no folder can be made there' : String(err)
    throw new CliError(`Cannot use ${dataDir} as the data folder: ${why}. Choose a folder this user can write to.`)
  }
  const system = join(dataDir, '.s3mesh')
  if ((await stat(system).catch(() => undefined))?.isDirectory() === false) throw new CliError(`${system} is a file: s3mesh keeps its own data in a folder of that name. Move the file away.`)
}

/** `flag` names the option that sets this address, for the error message. */
async function listen (server: Server, host: string, port: number, what: 'S3 API' | 'console' = 'S3 API'): Promise<AddressInfo> {
  const flag = what === 'console' ? '--console-address' : '--address'
  await new Promise<void>((resolvePromise, reject) => {
    const onError = (err: Error): void => { server.off('listening', onListening); reject(err) }
    const onListening = (): void => { server.off('error', onError); resolvePromise() }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  }).catch(err => {
    if (codeOf(err) === 'EADDRINUSE') throw new CliError(`Port ${port} on ${host} (the ${what}) is already in use. Stop whatever holds it, or pick another port with ${flag} ${host}:<port>.`)
    if (codeOf(err) === 'EACCES') throw new CliError(`Not allowed to listen on ${host}:${port} (ports below 1024 need privileges). Pick a port above 1024 with ${flag}.`)
    if (codeOf(err) === 'EADDRNOTAVAIL' || codeOf(err) === 'ENOTFOUND') throw new CliError(`${host} is not an address of this machine. Use 127.0.0.1, 0.0.0.0 or one of its own addresses in ${flag}.`)
    throw err
  })
  return server.address() as AddressInfo
}

function urlOf (address: AddressInfo, secure: boolean): string {
  return urlsOf(address, secure)[0]!
}

/** The URLs an address answers on: each interface's for 0.0.0.0 or ::, others before loopback. */
function urlsOf (address: AddressInfo, secure: boolean): string[] {
  const hosts = address.address === '0.0.0.0' || address.address === '::' ? interfaceHosts(address.address === '::') : [address.address]
  return hosts.map(h => `${secure ? 'https' : 'http'}://${h.includes(':') ? `[${h}]` : h}:${address.port}`)
}

/** An http server, or an https one with the certificate when there is one. */
function makeServer (options: HttpServerOptions, certificates: Certificates | undefined, listener: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const server = certificates === undefined
    ? createServer(options, listener)
    : createHttpsServer({ ...options, key: certificates.key, cert: certificates.cert }, listener) as unknown as Server
  // Expect: 100-continue is answered when the body is first read, not at once (see expectsContinue).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => { expectsContinue(req); listener(req, res) })
  return server
}

/** Health and metrics answer plain GETs; a signed request to the same path is S3 (bucket "health" or "metrics"). */
function isPlainGet (req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && req.headers.authorization === undefined && !(req.url ?? '').includes('X-Amz-Signature')
}

/** S3MESH_STS_MIN_SECONDS: the shortest STS session (default AWS's 900 s); tests shorten it to see credentials expire. */
function stsMinSeconds (env: NodeJS.ProcessEnv): number {
  const v = env.S3MESH_STS_MIN_SECONDS
  if (v === undefined) return 900
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 43200) throw new CliError(`S3MESH_STS_MIN_SECONDS must be a number of seconds from 1 to 43200 (got "${v}").`, 2)
  return Number(v)
}

/**
 * A relay's answer to S3 requests: it holds no object. It names no storage
 * node: the request is not authenticated, and the relay is the member that
 * faces the public (the members API tells a signed caller where they are).
 */
function relayAnswer (): S3Handler {
  return async (request: Request) => errorResponse(new S3Error('NotImplemented', 'This is an s3mesh relay: it holds no objects. Send S3 requests to a storage node of its mesh (`s3mesh members --endpoint <this URL>` lists them).'), randomId(8), request.method)
}

/** Starts an S3 server on a data folder: the `s3mesh server` command without the CLI. */
export async function startServer (options: ServerOptions): Promise<RunningServer> {
  // An empty name resolves to the current folder: its files would become buckets and objects.
  if (options.dataDir.trim() === '') throw new CliError('Give a data folder: an empty name would serve the current folder.', 2)
  const dataDir = resolve(options.dataDir)
  await prepareDataDir(dataDir)
  const layout = new DiskLayout(dataDir)
  await mkdir(layout.system, { recursive: true })
  // Before anything is opened: a bad certificate stops the start with the file's name.
  let certificates = options.certsDir === undefined ? undefined : await loadCertificates(resolve(options.certsDir))
  if (certificates !== undefined && !trustCertificateAuthorities(certificates.cas)) {
    process.stderr.write(`s3mesh: this Node.js (${process.version}) cannot add ${certificates.dir}/CAs to its trusted CAs; start it with NODE_EXTRA_CA_CERTS=<file> instead.\n`)
  }
  const unlock = await lockDataDir(layout, dataDir)
  let store: DiskStore | undefined
  try {
    store = await DiskStore.open(dataDir, { fsync: options.fsync ?? true, ...(options.scanIntervalMs === undefined ? {} : { scanIntervalMs: options.scanIntervalMs }) })
    const credentials = await loadRootCredentials(layout, options.env ?? process.env)
    const metrics = new ServerMetrics()
    metrics.attachStore(store)
    // Users, keys and policies: saved here before a change is answered, the same on every member.
    const accessState = new AccessState(randomId(8))
    const accessFile = new AccessFile(layout, accessState)
    await accessFile.load()
    accessState.onChange(async () => { await accessFile.save() })
    const { replicas, accessSyncMs, ...meshOptions } = options.mesh ?? {}
    if (options.mesh !== undefined) await refuseLockedBuckets(store, dataDir)
    const mesh = options.mesh === undefined
      ? undefined
      : await startMesh({
        layout, env: options.env ?? process.env, ...meshOptions as Required<Omit<NonNullable<ServerOptions['mesh']>, 'replicas' | 'accessSyncMs'>>, store,
        objects: replicas === undefined ? {} : { replicas }, access: accessState, ...(accessSyncMs === undefined ? {} : { accessSyncMs }),
        ...(certificates === undefined ? {} : { tls: { key: certificates.key, cert: certificates.cert } }),
        role: options.role ?? 'durable',
      })
    // STS tokens open on every member with the cluster key; a lone node seals them with a key derived from its root secret.
    const access = new AccessControl({
      state: accessState,
      root: { accessKeyId: credentials.accessKey, secretAccessKey: credentials.secretKey },
      sessionMinSeconds: stsMinSeconds(options.env ?? process.env),
      tokens: new SessionTokens(mesh?.keyring ?? await rootSealer(credentials.secretKey, 'sts', nodeAead)),
    })
    // Tabs join as guests: admitted by a node, each request decided by this access control.
    const guests = await mesh?.admitGuests(access).catch(async (err: unknown) => { await mesh.stop({ leave: false }); throw err })
    if (guests !== undefined) metrics.attachGuests(guests)
    if (mesh !== undefined) metrics.attachMembership(mesh.transport)
    if (mesh !== undefined) metrics.attachMesh(mesh.node)
    // This node's figures: its metrics (the console's charts) and its connections (the graph's edges).
    metrics.attachAccess(access, mesh?.accessSync)
    const ownStats = async (what: StatsKind): Promise<unknown> => what === 'metrics' ? await metrics.json() : Object.fromEntries(connectionKinds(mesh?.libp2p.getConnections() ?? []))
    // Any member's, through this one: the others ask over the mesh.
    const stats = mesh === undefined ? undefined : new MemberStats(mesh.libp2p, mesh.keyring, ownStats)
    await stats?.start().catch(async (err: unknown) => { await mesh?.stop({ leave: false }); throw err })
    // Lifecycle rules: in a mesh each bucket's leading catalog owner expires its objects (once, not once per node).
    const lifecycle = options.role === 'relay' ? undefined : lifecycleRunner(mesh?.node.store ?? store, mesh === undefined ? () => true : b => mesh.node.partition.leads(b), options, async (bucket, key) => { await access.forgetObjectAcl(bucket, key) })
    if (lifecycle !== undefined) metrics.attachLifecycle(lifecycle.stats)
    lifecycle?.start()
    const s3Handler = options.role === 'relay' && mesh !== undefined
      ? relayAnswer()
      : createS3Handler({
        store: mesh?.node.store ?? store,
        hashes: nodeHashes,
        region: options.region,
        virtualHostDomains: options.domains,
        access,
      })
    const handler = withMeshApi(s3Handler, {
      transport: mesh?.transport, node: mesh?.node, access, hashes: nodeHashes, browserJoin: mesh?.browserJoin, guests: () => guests?.list() ?? [],
      stats: async (what, member, signal) => {
        if (member === undefined || member === mesh?.libp2p.peerId.toString()) return await ownStats(what)
        if (stats === undefined) throw new S3Error('NotImplemented', 'This node runs without a mesh.')
        if (mesh?.transport.membership.get(member)?.state !== 'alive') throw new S3Error('InvalidArgument', `No live member ${member}.`)
        return await stats.ask(member, what, signal).catch((err: unknown) => { throw new S3Error('ServiceUnavailable', `The member ${member} did not answer: ${err instanceof Error ? err.message : String(err)}`) })
      },
    })
    const s3 = toNodeListener(handler, { onExchange: e => { metrics.observe(e.operation, e.status, e.seconds, e.bytesIn, e.bytesOut) } })
    let ready = true
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      const path = (req.url ?? '').split('?')[0]
      if (isPlainGet(req) && (path === '/health/live' || path === '/health/ready' || path === '/metrics')) {
        if (path === '/metrics') {
          metrics.render().then(({ body, contentType }) => { res.writeHead(200, { 'content-type': contentType }).end(body) }, () => { res.writeHead(500).end() })
          return
        }
        const ok = path === '/health/live' || ready
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'shutting down' }) + '\n')
        return
      }
      s3(req, res)
    }
    // requestTimeout 0: a 5 GiB upload on a slow link takes longer than Node's default 5 minutes.
    const server = makeServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, certificates, listener)
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // As Node's own handler: an answer only where none has begun (one mid-way would be corrupted), with the status
      // the parser's error calls for, then the connection goes.
      const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
      if (socket.writable && !answering) socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\n\r\n`)
      else socket.destroy()
    })
    const address = await listen(server, options.host, options.port).catch(async err => { await mesh?.stop({ leave: false }); throw err })
    const urls = urlsOf(address, certificates !== undefined)
    const url = urls[0]!
    // The others learn where this node's S3 answers (the console links it; tabs of a relay write there).
    mesh?.transport.updateMeta({ url: options.publicUrl ?? url })
    // The console origin answers /_s3mesh/ too, so its pages reach the API without cross-origin requests,
    // and /s3/ as the gateway a browser's service worker falls back to (signed requests only).
    const consoleServer = options.console === undefined
      ? undefined
      : createConsoleServer({
        certificates,
        api: s3,
        gateway: toNodeListener(createS3Handler({ store: mesh?.node.store ?? store, hashes: nodeHashes, region: options.region, access, basePath: '/s3', sandboxObjects: true }), {
          onExchange: e => { metrics.observe(e.operation, e.status, e.seconds, e.bytesIn, e.bytesOut) },
        }),
      })
    const consoleUrl = consoleServer === undefined
      ? undefined
      : urlOf(await listen(consoleServer, options.console!.host, options.console!.port, 'console').catch(async err => {
        await mesh?.stop({ leave: false })
        server.close()
        throw err
      }), certificates !== undefined)
    let closing: Promise<void> | undefined
    /** Set once close() has begun: every answer from then on closes its connection (see close). */
    let draining = false
    /** Answers under way (close() has those not yet sent close their connections too). */
    const inFlight = new Set<ServerResponse>()
    const track = (req: IncomingMessage, res: ServerResponse): void => {
      inFlight.add(res)
      res.once('close', () => { inFlight.delete(res) })
      // Node keeps a connection open after server.close() if a request was under way on it, and goes on taking the
      // requests its client sends there: once the answer is out, it is ended.
      res.once('finish', () => { if (draining) req.socket.end() })
      if (draining) res.shouldKeepAlive = false
    }
    // On the S3 server, a request that expects 100-continue (the SDKs' large PUTs) comes as checkContinue (makeServer), not
    // as 'request'. (Not on the console's: a checkContinue listener there would take such requests from its handler.)
    server.on('request', track)
    server.on('checkContinue', track)
    consoleServer?.on('request', track)
    return {
      url, urls, role: options.role ?? 'durable', credentials, access, store, metrics, mesh, consoleUrl, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
      get certificates () { return certificates },
      reloadCertificates: async () => {
        if (options.certsDir === undefined) throw new CliError('This node serves plain HTTP: start it with --certs-dir to serve TLS.')
        const next = await loadCertificates(resolve(options.certsDir))
        // New connections get the new pair; open ones (keep-alive, WebSockets) are left alone.
        for (const s of [server, consoleServer]) (s as unknown as { setSecureContext?: (o: { key: string, cert: string }) => void } | undefined)?.setSecureContext?.({ key: next.key, cert: next.cert })
        mesh?.renewCertificate({ key: next.key, cert: next.cert })
        trustCertificateAuthorities(next.cas)
        certificates = next
        return next
      },
      close: async (graceMs = 10_000) => {
        closing ??= (async () => {
          ready = false
          await lifecycle?.stop()
          await stats?.stop().catch(() => {})
          // The requests under way end first, with the mesh still running: a PUT's copies are made at its replicas and
          // announced, a read from another member finishes. (Stopping the mesh first cut them off: PUTs answered with
          // one copy, never announced.) No connection is taken from here, and each ends once its answer is out (a client
          // keeping it would go on sending requests here, and the node wait out graceMs); those still running then are cut.
          draining = true
          for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false
          const servers = consoleServer === undefined ? [server] : [server, consoleServer]
          const closed = Promise.all(servers.map(async s => { await new Promise<void>(resolveClosed => s.close(() => { resolveClosed() })) }))
          for (const s of servers) s.closeIdleConnections()
          const timer = setTimeout(() => { for (const s of servers) s.closeAllConnections() }, graceMs)
          await closed
          clearTimeout(timer)
          // Then leave: the others mark this node "left", not "failed".
          await mesh?.stop({ leave: true })
          await store?.close()
          await unlock()
        })()
        await closing
      },
    }
  } catch (err) {
    await store?.close()
    await unlock()
    throw err
  }
}

/** Between passes of the lifecycle rules by default: S3 applies them once a day; an hour keeps expiry close to its date. */
export const LIFECYCLE_INTERVAL_MS = 60 * 60 * 1000

/**
 * The node's lifecycle runner. `S3MESH_LIFECYCLE_CLOCK_SKEW_DAYS` (tests
 * only) moves the clock its rules are checked against by that many days, so
 * a test sees a rule of days act without waiting them.
 */
function lifecycleRunner (store: ObjectStore, decides: (bucket: string) => boolean, options: ServerOptions, forget: (bucket: string, key: string) => Promise<void>): LifecycleRunner {
  const intervalMs = options.lifecycleIntervalMs ?? LIFECYCLE_INTERVAL_MS
  const skewDays = Number((options.env ?? process.env).S3MESH_LIFECYCLE_CLOCK_SKEW_DAYS ?? 0) || 0
  return new LifecycleRunner({
    store, decides, intervalMs, forget,
    // Not at once: a member that has just started does not yet know who leads which bucket.
    firstPassAfterMs: Math.min(intervalMs, 10_000),
    now: () => Date.now() + skewDays * 86_400_000,
    onError: (err, bucket) => { process.stderr.write(`s3mesh: a lifecycle pass ${bucket === undefined ? '' : `over bucket ${bucket} `}failed (tried again in ${intervalMs / 1000} s): ${err instanceof Error ? err.message : String(err)}\n`) },
  })
}


/**
 * Object lock kept by a node without the mesh lives in its store (meta.db);
 * a mesh keeps it in its catalog, and a member's store keeps none (it drops
 * and moves copies as placement says). A data folder whose buckets have it,
 * from a run with --no-mesh, is refused as a member rather than served
 * unlocked.
 */
async function refuseLockedBuckets (store: DiskStore, dataDir: string): Promise<void> {
  const locked: string[] = []
  for (const b of await store.listBuckets()) if ((await store.headBucket(b.name)).objectLock !== undefined) locked.push(b.name)
  if (locked.length === 0) return
  throw new CliError(`${dataDir} has buckets with object lock (${locked.slice(0, 3).join(', ')}${locked.length > 3 ? ` and ${locked.length - 3} more` : ''}), kept by this folder alone: start this node with --no-mesh, or copy its objects into a mesh bucket with object lock.`)
}

/** The status line Node's own clientError handler answers a parser's error with (headers too large, too slow, or bad). */
function clientErrorStatus (code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large'
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return '413 Payload Too Large'
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout'
  return '400 Bad Request'
}
