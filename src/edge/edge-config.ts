/**
 * The edge worker's configuration, read from the runtime's bindings (a
 * Worker's `env`, Deno's or Node's environment). Every value is a string
 * there; this turns them into checked settings with messages that say what to fix.
 */
export interface EdgeBindings {
  /** Comma-separated S3 endpoints of mesh nodes, tried in order (`https://a.example:9000,https://b.example:9000`). Required. */
  S3MESH_NODES?: string
  /** The access key the worker signs its requests to the mesh with. Required. */
  S3MESH_ACCESS_KEY?: string
  /** Its secret key. Required. */
  S3MESH_SECRET_KEY?: string
  /** The access key clients of the worker sign with; default: S3MESH_ACCESS_KEY. */
  S3MESH_CLIENT_ACCESS_KEY?: string
  /** Its secret key; default: S3MESH_SECRET_KEY. */
  S3MESH_CLIENT_SECRET_KEY?: string
  /** `auto` (the Cache API where the runtime has one, else memory), `cache-api`, `memory` or `off`. Default `auto`. */
  S3MESH_CACHE?: string
  /** A cached object checked this many seconds ago or less is served without asking the mesh. Default 0: always revalidated by ETag. */
  S3MESH_CACHE_TTL_SECONDS?: string
  /** Objects up to this many bytes are cached. Default 4 MiB. */
  S3MESH_CACHE_MAX_OBJECT_BYTES?: string
  /** The memory cache's budget, bytes. Default 32 MiB. */
  S3MESH_CACHE_MEMORY_BYTES?: string
  /** How long a mesh node may take to start answering a request without a body (a read) before the next is tried, ms. Default 10000. */
  S3MESH_TIMEOUT_MS?: string
  /** How old the worker's copy of the mesh's users and policies may be, seconds: a revoked key works here at most this long. Default 5. */
  S3MESH_ACCESS_TTL_SECONDS?: string
  /** Comma-separated host names under which `bucket.<domain>` is virtual-hosted style (`s3.example.com`). Default: path style only. */
  S3MESH_DOMAINS?: string
}

export interface EdgeConfig {
  nodes: string[]
  mesh: { accessKeyId: string, secretAccessKey: string }
  clients: { accessKeyId: string, secretAccessKey: string }
  cache: 'auto' | 'cache-api' | 'memory' | 'off'
  cacheTtlMs: number
  cacheMaxObjectBytes: number
  cacheMemoryBytes: number
  timeoutMs: number
  /** How old the copy of the access state may be, ms. */
  accessTtlMs: number
  /** Virtual-hosted-style domains. */
  domains: string[]
  /** Passed over this long after a node fails, ms. */
  retryAfterMs: number
  /** Write bodies up to this size are held so a write can go to another node if the first fails. */
  replayableBytes: number
}

/** The worker's bindings are missing or wrong: the message says which and how to fix it. */
export class EdgeConfigError extends Error {
  static override name = 'EdgeConfigError'
  constructor (message: string) {
    super(message)
    this.name = 'EdgeConfigError'
  }
}

const MiB = 1024 * 1024

function number (env: EdgeBindings, name: keyof EdgeBindings, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new EdgeConfigError(`${name} must be a number of 0 or more, not "${raw}".`)
  return n
}

export function edgeConfig (env: EdgeBindings): EdgeConfig {
  const missing = (['S3MESH_NODES', 'S3MESH_ACCESS_KEY', 'S3MESH_SECRET_KEY'] as const).filter(n => (env[n] ?? '') === '')
  if (missing.length > 0) throw new EdgeConfigError(`The s3mesh edge worker needs ${missing.join(', ')} (set them as the worker's variables or secrets): the mesh nodes' S3 endpoints and the keys to sign with.`)
  const nodes = env.S3MESH_NODES!.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const node of nodes) {
    let url: URL
    try { url = new URL(node) } catch { throw new EdgeConfigError(`S3MESH_NODES: "${node}" is not a URL; give S3 endpoints such as https://node.example:9000.`) }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EdgeConfigError(`S3MESH_NODES: "${node}" must be http:// or https://.`)
  }
  const cache = env.S3MESH_CACHE ?? 'auto'
  if (cache !== 'auto' && cache !== 'cache-api' && cache !== 'memory' && cache !== 'off') throw new EdgeConfigError(`S3MESH_CACHE must be auto, cache-api, memory or off, not "${cache}".`)
  const mesh = { accessKeyId: env.S3MESH_ACCESS_KEY!, secretAccessKey: env.S3MESH_SECRET_KEY! }
  return {
    nodes,
    mesh,
    clients: { accessKeyId: env.S3MESH_CLIENT_ACCESS_KEY ?? mesh.accessKeyId, secretAccessKey: env.S3MESH_CLIENT_SECRET_KEY ?? mesh.secretAccessKey },
    cache,
    cacheTtlMs: number(env, 'S3MESH_CACHE_TTL_SECONDS', 0) * 1000,
    cacheMaxObjectBytes: number(env, 'S3MESH_CACHE_MAX_OBJECT_BYTES', 4 * MiB),
    cacheMemoryBytes: number(env, 'S3MESH_CACHE_MEMORY_BYTES', 32 * MiB),
    timeoutMs: number(env, 'S3MESH_TIMEOUT_MS', 10_000),
    accessTtlMs: number(env, 'S3MESH_ACCESS_TTL_SECONDS', 5) * 1000,
    domains: (env.S3MESH_DOMAINS ?? '').split(',').map(s => s.trim().toLowerCase()).filter(s => s !== ''),
    retryAfterMs: 10_000,
    replayableBytes: 16 * MiB,
  }
}
