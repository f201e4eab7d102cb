/**
 * s3mesh at the edge: `export default { fetch }` for Cloudflare Workers,
 * Deno (`deno serve`) and anything else that speaks Web-standard fetch. The
 * unchanged S3 handler over a GatewayStore: clients sign with SigV4 as with
 * any S3 endpoint; the worker signs again towards the mesh's nodes, fails
 * over between them, and keeps small objects in the runtime's cache.
 */
import { S3Error } from '../core/errors.js'
import { createS3Handler, errorResponse, type S3Handler } from '../s3-shim/index.js'
import { edgeConfig, EdgeConfigError, type EdgeBindings, type EdgeConfig } from './edge-config.js'
import { GatewayStore } from '../gateway/gateway-store.js'
import { CacheApiCache, MemoryCache, type ObjectCache } from '../gateway/object-cache.js'
import { RemoteS3 } from '../gateway/remote-s3.js'
import { RemoteAccess } from '../gateway/remote-access.js'

export { edgeConfig, EdgeConfigError, type EdgeBindings, type EdgeConfig } from './edge-config.js'
export { GatewayStore, type GatewayStoreOptions } from '../gateway/gateway-store.js'
export { CacheApiCache, MemoryCache, type CachedObject, type ObjectCache } from '../gateway/object-cache.js'
export { RemoteS3, type RemoteS3Options } from '../gateway/remote-s3.js'

async function cacheFor (config: EdgeConfig): Promise<ObjectCache | undefined> {
  if (config.cache === 'off') return undefined
  if (config.cache === 'memory') return new MemoryCache(config.cacheMemoryBytes)
  // The mesh is named by its nodes: workers of two meshes on one zone keep apart.
  const api = await CacheApiCache.open(config.nodes.join(','))
  if (api === undefined && config.cache === 'cache-api') throw new EdgeConfigError('S3MESH_CACHE is cache-api, but this runtime has no Cache API (caches); use memory or auto.')
  return api ?? new MemoryCache(config.cacheMemoryBytes)
}

/** The S3 handler for one configuration: what the worker runs, for callers that build their own. */
export async function createEdgeHandler (config: EdgeConfig): Promise<S3Handler> {
  const remote = new RemoteS3({ endpoints: config.nodes, ...config.mesh, timeoutMs: config.timeoutMs, retryAfterMs: config.retryAfterMs, rawBodies: true })
  const store = new GatewayStore({
    remote,
    cache: await cacheFor(config),
    cacheTtlMs: config.cacheTtlMs,
    cacheMaxObjectBytes: config.cacheMaxObjectBytes,
    replayableBytes: config.replayableBytes,
  })
  // The mesh's users and policies, decided here by the same code as on a node.
  const remoteAccess = new RemoteAccess({ nodes: config.nodes, mesh: config.mesh, root: config.clients, ttlMs: config.accessTtlMs })
  const handler = createS3Handler({ store, virtualHostDomains: config.domains, access: remoteAccess.control, serveAccessApi: false })
  return async (request, info) => {
    try {
      await remoteAccess.fresh()
    } catch (err) {
      return errorResponse(err instanceof S3Error ? err : new S3Error('ServiceUnavailable', String(err)), 'edge', request.method)
    }
    // aws:SourceIp in policies: Cloudflare says who connected (a client cannot set this header through it).
    const ip = request.headers.get('cf-connecting-ip')
    const i = info ?? {}
    if (ip !== null) i.client = { sourceIp: ip, secure: new URL(request.url).protocol === 'https:' }
    const response = await handler(request, i)
    // An object stored with a Content-Encoding goes out as stored: Workers would otherwise encode the body again (its
    // `encodeBody`, unknown elsewhere and ignored there).
    if (response.headers.has('content-encoding')) return new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers, encodeBody: 'manual' } as ResponseInit)
    return response
  }
}

/** Where bindings come from when the runtime passes none (Deno's `serve` and Node pass no env): the process environment. */
function processBindings (): EdgeBindings {
  const g = globalThis as { Deno?: { env: { toObject: () => Record<string, string> } }, process?: { env: Record<string, string | undefined> } }
  return g.Deno?.env.toObject() ?? g.process?.env ?? {}
}

/** One handler per bindings object (a Worker's env is the same object for the isolate's life). */
const handlers = new WeakMap<object, Promise<S3Handler>>()
let fromProcess: Promise<S3Handler> | undefined

function handlerFor (env: unknown): Promise<S3Handler> {
  if (typeof env === 'object' && env !== null && 'S3MESH_NODES' in env) {
    let handler = handlers.get(env)
    if (handler === undefined) {
      handler = (async () => await createEdgeHandler(edgeConfig(env as EdgeBindings)))()
      handlers.set(env, handler)
    }
    return handler
  }
  fromProcess ??= (async () => await createEdgeHandler(edgeConfig(processBindings())))()
  return fromProcess
}

export default {
  async fetch (request: Request, env?: unknown): Promise<Response> {
    let handler: S3Handler
    try {
      handler = await handlerFor(env)
    } catch (err) {
      // Said on every request until fixed: the operator sees it in the client and in the worker's log.
      const message = err instanceof EdgeConfigError ? err.message : `The s3mesh edge worker could not start: ${String(err)}`
      console.error(`s3mesh: ${message}`)
      return errorResponse(new S3Error('ServiceUnavailable', message), crypto.randomUUID(), request.method)
    }
    return await handler(request)
  },
}
