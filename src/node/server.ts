import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdir, access, constants } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { createS3Handler } from '../s3-shim/index.js'
import { CliError } from './cli-error.js'
import { createConsoleServer } from './console-server.js'
import { codeOf } from './disk-files.js'
import { DiskLayout } from './disk-layout.js'
import { DiskStore } from './disk-store.js'
import { lockDataDir } from './data-dir-lock.js'
import { toNodeListener } from './http-adapter.js'
import { ServerMetrics } from './metrics.js'
import { nodeHashes } from './node-hashes.js'
import { withMeshApi } from '../gateway/mesh-api.js'
import { connectionKinds } from '../core/wire/transport-kind.js'
import { MemberStats, type StatsKind } from '../core/mesh/member-stats.js'
import { S3Error } from '../core/errors.js'
import { startMesh, type PresetName, type RunningMesh } from './mesh.js'
import { loadRootCredentials, type RootCredentials } from './root-credentials.js'
import { AccessControl } from '../core/access/access-control.js'
import { AccessState } from '../core/access/access-state.js'
import { SessionTokens } from '../core/access/session-token.js'
import { randomId } from '../core/ids.js'
import { rootSealer } from '../core/access/root-sealer.js'
import { AccessFile } from './access-file.js'
import { nodeAead } from './node-aead.js'

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
  /** Environment to read S3MESH_ROOT_USER / S3MESH_ROOT_PASSWORD from. */
  env?: NodeJS.ProcessEnv
  /** Host names for virtual-hosted-style requests (`bucket.<domain>`). */
  domains?: string[]
  /** Join or start a mesh; without it the node serves alone. */
  mesh?: { host: string, port: number, join: string[], cluster: string, preset: PresetName, version: string, replicas?: number, accessSyncMs?: number }
  /** Where the console, the page library (/s3mesh.js) and the service worker (/s3mesh-sw.js) are served; none without it. */
  console?: { host: string, port: number }
}

export interface RunningServer {
  url: string
  credentials: RootCredentials
  /** Users, keys, policies and sessions. */
  access: AccessControl
  store: DiskStore
  metrics: ServerMetrics
  mesh?: RunningMesh
  /** The console's address, when it is served. */
  consoleUrl?: string
  /** Stops accepting connections, lets requests in flight finish (up to `graceMs`), then releases the data folder. */
  close (graceMs?: number): Promise<void>
}

async function prepareDataDir (dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true })
    await access(dataDir, constants.W_OK | constants.R_OK | constants.X_OK)
  } catch (err) {
    const why = codeOf(err) === 'EACCES' || codeOf(err) === 'EPERM' || codeOf(err) === 'EROFS' ? 'permission denied' : codeOf(err) === 'ENOTDIR' ? 'it is not a folder' : String(err)
    throw new CliError(`Cannot use ${dataDir} as the data folder: ${why}. Choose a folder this user can write to.`)
  }
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

function urlOf (address: AddressInfo): string {
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
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

/** Starts an S3 server on a data folder: the `s3mesh server` command without the CLI. */
export async function startServer (options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir)
  await prepareDataDir(dataDir)
  const layout = new DiskLayout(dataDir)
  await mkdir(layout.system, { recursive: true })
  const unlock = await lockDataDir(layout.lockFile, dataDir)
  try {
    const store = await DiskStore.open(dataDir, { fsync: options.fsync ?? true })
    const credentials = await loadRootCredentials(layout, options.env ?? process.env)
    const metrics = new ServerMetrics()
    // Users, keys and policies: saved here before a change is answered, the same on every member.
    const accessState = new AccessState(randomId(8))
    const accessFile = new AccessFile(layout, accessState)
    await accessFile.load()
    accessState.onChange(async () => { await accessFile.save() })
    const { replicas, accessSyncMs, ...meshOptions } = options.mesh ?? {}
    const mesh = options.mesh === undefined
      ? undefined
      : await startMesh({
        layout, env: options.env ?? process.env, ...meshOptions as Required<Omit<NonNullable<ServerOptions['mesh']>, 'replicas' | 'accessSyncMs'>>, store,
        objects: replicas === undefined ? {} : { replicas }, access: accessState, ...(accessSyncMs === undefined ? {} : { accessSyncMs }),
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
    const handler = withMeshApi(createS3Handler({
      store: mesh?.node.store ?? store,
      hashes: nodeHashes,
      region: options.region,
      virtualHostDomains: options.domains,
      access,
    }), {
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
    const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, listener)
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })
    const address = await listen(server, options.host, options.port).catch(async err => { await mesh?.stop({ leave: false }); throw err })
    const url = urlOf(address)
    // The console origin answers /_s3mesh/ too, so its pages reach the API without cross-origin requests,
    // and /s3/ as the gateway a browser's service worker falls back to (signed requests only).
    const consoleServer = options.console === undefined
      ? undefined
      : createConsoleServer({
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
      }))
    let closing: Promise<void> | undefined
    return {
      url, credentials, access, store, metrics, mesh, consoleUrl,
      close: async (graceMs = 10_000) => {
        closing ??= (async () => {
          ready = false
          await stats?.stop().catch(() => {})
          // Leave first: the others mark this node "left", not "failed".
          await mesh?.stop({ leave: true })
          const closed = new Promise<void>(resolveClosed => server.close(() => { resolveClosed() }))
          server.closeIdleConnections()
          const timer = setTimeout(() => { server.closeAllConnections() }, graceMs)
          consoleServer?.closeAllConnections()
          consoleServer?.close()
          await closed
          clearTimeout(timer)
          await unlock()
        })()
        await closing
      },
    }
  } catch (err) {
    await unlock()
    throw err
  }
}
