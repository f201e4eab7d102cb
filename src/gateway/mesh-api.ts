import type { AccessControl, Principal } from '../core/access/access-control.js'
import type { Hashes } from '../core/hashes.js'
import { decodeNodeMeta } from '../core/membership/node-meta.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { MembershipTransport } from '../core/membership/libp2p-transport.js'
import { formatVersion } from '../core/mesh/hlc.js'
import type { CatalogEntry } from '../core/mesh/catalog-entry.js'
import type { MeshNode } from '../core/mesh/mesh-node.js'
import { S3Error } from '../core/errors.js'
import type { StatsKind } from '../core/mesh/member-stats.js'
import { requestIdSource } from '../core/ids.js'
import { ACCESS_API_PATHS } from '../s3-shim/iam/access-api.js'
import { BUILTIN_POLICIES } from '../core/access/builtin-policies.js'
import { rootSealer } from '../core/access/root-sealer.js'

const builtinDocument = (name: string): string | undefined => BUILTIN_POLICIES[name]
import { authenticatePrincipal, DEFAULT_CLOCK_SKEW_MS, errorResponse, type CredentialProvider, type RequestInfo, type S3Handler } from '../s3-shim/index.js'

/** One member as `GET /_s3mesh/v1/members` reports it. */
/** What a browser tab needs to join the mesh through this node: never a cluster key. */
export interface BrowserJoinInfo {
  cluster: string
  /** This node's WebSocket addresses: the tab dials them, and uses this node as its relay. */
  relays: string[]
  /** The admission this node signed for the tab's peer id, base64 (see core/access/admission.ts). */
  admission: string
  /** When it expires, and when the tab should ask for the next one (ms since the epoch). */
  expires: number
  renewAt: number
  /** Who the tab speaks for. */
  principal: { kind: 'root' | 'user', user?: string, accessKeyId: string }
  /**
   * Storage nodes' S3 endpoints for the tab's writes, in the order to try
   * them, when the node that answered is a relay (which holds no objects);
   * the tab writes to the node it joined through otherwise.
   */
  writers?: string[]
}

/**
 * The paths a page of another origin calls while joining (a web app on its
 * own origin, its node elsewhere): any origin may, since each request is
 * SigV4-signed with the user's keys (no cookies, nothing ambient to abuse).
 */
const CROSS_ORIGIN_PATHS = new Set(['/_s3mesh/v1/browser-join', '/_s3mesh/v1/access/me'])

function withCors (response: Response, request: Request): Response {
  const origin = request.headers.get('origin')
  if (origin === null) return response
  const headers = new Headers(response.headers)
  headers.set('access-control-allow-origin', origin)
  headers.append('vary', 'Origin')
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

export interface MemberView {
  id: string
  state: string
  incarnation: number
  role?: string
  addresses: string[]
  meta: { version?: string, capacity?: number, started?: number, free?: number, url?: string }
  rttMs?: number
  self?: true
}

export function memberViews (transport: MembershipTransport): MemberView[] {
  return transport.membership.list().map(m => {
    const meta = decodeNodeMeta(m.meta)
    return {
      id: m.id, state: m.state, incarnation: m.incarnation, role: meta?.role, addresses: meta?.addrs ?? [],
      meta: { version: meta?.version, ...(meta?.capacity !== undefined ? { capacity: meta.capacity } : {}), ...(meta?.started !== undefined ? { started: meta.started } : {}), ...(meta?.free !== undefined ? { free: meta.free } : {}), ...(meta?.url !== undefined ? { url: meta.url } : {}) },
      ...(m.rttMs !== undefined ? { rttMs: Math.round(m.rttMs * 10) / 10 } : {}),
      ...(m.self ? { self: true as const } : {}),
    }
  }).sort((a, b) => (a.self === true ? -1 : b.self === true ? 1 : a.id < b.id ? -1 : 1))
}

/** Where one object (or bucket, without a key) is: its newest version, holders and placement. */
/** `<bucket>` or `<bucket>/<key>` of a locate path, decoded. */
function locatePath (path: string): { bucket: string, key?: string } {
  const slash = path.indexOf('/')
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text)
    } catch {
      throw new S3Error('InvalidArgument', 'The locate path is not valid percent-encoded UTF-8.')
    }
  }
  const bucket = decode(slash < 0 ? path : path.slice(0, slash))
  const key = slash < 0 || slash === path.length - 1 ? undefined : decode(path.slice(slash + 1))
  return key === undefined ? { bucket } : { bucket, key }
}

/**
 * What the catalog says of `path`. `heard`: an entry of it this node saw go
 * by while a blocking query waited (see untilKnown); it answers if the owners
 * asked have no newer one yet (they hear of a write through the same gossip,
 * and may take in the announcement a moment after a follower did).
 */
export async function locateView (node: MeshNode, path: string, signal?: AbortSignal, heard?: CatalogEntry): Promise<Record<string, unknown>> {
  const { bucket, key } = locatePath(path)
  const { entry, placement, holders } = await node.locate(bucket, key, signal, heard)
  if (entry === undefined) throw new S3Error(key === undefined ? 'NoSuchBucket' : 'NoSuchKey', `The catalog has no entry for ${bucket}/${key ?? ''}.`)
  return {
    bucket, ...(key === undefined ? {} : { key }),
    version: formatVersion(entry.version), deleted: entry.deleted,
    ...(entry.object === undefined ? {} : { size: entry.object.size, etag: entry.object.etag, sha256: entry.object.sha256 }),
    holders, placement,
  }
}

/** The longest `?wait=` a locate request may ask for, ms. */
const MAX_WAIT_MS = 30_000

/** How often a blocking query on a bucket this node does not own asks the owners (a writer may not know of the follow yet), ms. */
const ASK_OWNERS_MS = 1_000

/**
 * A blocking query, as Consul's: resolves once this node has heard of the
 * object (or bucket) at `path` as live, or after `ms`. Lets a client (or a
 * benchmark) see when a write made elsewhere reached this node, without
 * polling. An object of a bucket this node keeps is waited for in its
 * catalog; of another bucket, the node follows the bucket's announcements
 * while it waits, and asks the owners at first and now and then.
 */
async function untilKnown (node: MeshNode, path: string, ms: number, signal: AbortSignal): Promise<CatalogEntry | undefined> {
  // Parsed once: the check runs on every catalog change while the request waits.
  const { bucket, key } = locatePath(path)
  const known = node.catalog.get(bucket, key)
  if (known?.deleted === false) return known
  const kept = key === undefined || node.partition.answers(bucket)
  const unfollow = kept ? undefined : node.follow(bucket)
  const owners = new AbortController()
  const stop = AbortSignal.any([signal, owners.signal])
  let heard: CatalogEntry | undefined
  try {
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        clearInterval(asking)
        node.catalog.removeEventListener('change', check)
        node.heard.removeEventListener('passed', check)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const check = (e: CustomEvent<CatalogEntry>): void => { if (e.detail.bucket === bucket && e.detail.key === key && !e.detail.deleted) { heard = e.detail; done() } }
      const ask = (): void => { void node.partition.entry(bucket, key!, stop).then(e => { if (e?.deleted === false) { heard = e; done() } }, () => {}) }
      const timer = setTimeout(done, ms)
      const asking = kept ? undefined : setInterval(ask, ASK_OWNERS_MS)
      node.catalog.addEventListener('change', check)
      node.heard.addEventListener('passed', check)
      signal.addEventListener('abort', done, { once: true })
      if (!kept) ask()
    })
  } finally {
    owners.abort()
    unfollow?.()
  }
  return heard
}

/**
 * JSON sealed with a key derived from the root secret (secrets for the root
 * credentials' holder only, never in clear on the wire), bound to the
 * asker's nonce and the time, so an old answer cannot be replayed to it.
 */
async function sealedJson (access: AccessControl, purpose: 'access-state' | 'access-session', request: Request, value: unknown): Promise<Response> {
  const nonce = request.headers.get('x-s3mesh-nonce')
  if (nonce === null || !/^[0-9a-f]{16,64}$/.test(nonce)) throw new S3Error('InvalidRequest', 'Send a random x-s3mesh-nonce (hex) to bind the answer to this request.')
  const sealer = await rootSealer(access.root.secretAccessKey, purpose)
  const body = await sealer.seal(new TextEncoder().encode(JSON.stringify({ nonce, at: Date.now(), value })))
  return new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' } })
}

/** What `GET /_s3mesh/v1/access/me` answers. */
export interface WhoAmI {
  kind: 'root' | 'user'
  user?: string
  /** Temporary credentials: when they expire. */
  expires?: string
  /** The identity policies in force (JSON documents); none for root, which may do everything. */
  policies: string[]
  /** The session policy of temporary credentials. */
  sessionPolicy?: boolean
  groups: string[]
}

function whoAmI (p: Principal, access: AccessControl | undefined): WhoAmI {
  if (p.kind === 'anonymous') throw new S3Error('AccessDenied')
  const expires = p.session === undefined ? {} : { expires: new Date(p.session.expires).toISOString(), sessionPolicy: p.session.policy !== undefined }
  if (p.kind === 'root' || access === undefined) return { kind: 'root', policies: [], groups: [], ...expires }
  const docs: string[] = []
  for (const owner of [['user', p.user.name] as const, ...access.state.groupsOf(p.user.name).map(g => ['group', g] as const)]) {
    for (const i of access.state.inline(owner[0], owner[1])) docs.push(i.document)
    for (const a of access.state.attached(owner[0], owner[1])) {
      const doc = access.state.policy(a.policy)?.document ?? builtinDocument(a.policy)
      if (doc !== undefined) docs.push(doc)
    }
  }
  return { kind: 'user', user: p.user.name, policies: docs, groups: access.state.groupsOf(p.user.name), ...expires }
}

/**
 * s3mesh's own API beside S3, under `/_s3mesh/` (no bucket name can start with
 * `_`). SigV4 credentials, so `curl --aws-sigv4 "aws:amz:us-east-1:s3"
 * --user KEY:SECRET` works; requests that sign no payload hash (plain SigV4)
 * are checked against the empty body. The mesh's figures need admin:ServerInfo
 * (root, consoleAdmin); `access/me` answers anyone signed; the cluster key
 * (browser-join) and the access state (for edge workers) only root.
 */
export interface MeshApiOptions {
  transport?: MembershipTransport
  node?: MeshNode
  /** Users and policies; without it only `credentials` (root) are known. */
  access?: AccessControl
  credentials?: CredentialProvider
  hashes: Hashes
  /** Admits a tab's libp2p peer id for whoever signed its join: an admission and the relays, never a cluster key. */
  browserJoin?: (principal: Principal, peer: string, sourceIp?: string) => Promise<unknown>
  /** The guests (tabs) following this node's feed now. */
  guests?: () => Array<{ id: string, addrs: string[] }>
  /**
   * A member's figures as JSON, this node's without a member: its metrics
   * (`GET /_s3mesh/v1/metrics[?member=<id>]`, the console's charts) or its
   * connections (`GET /_s3mesh/v1/connections[?member=<id>]`, the graph's edges).
   */
  stats?: (what: StatsKind, member: string | undefined, signal: AbortSignal) => Promise<unknown>
}

function isPeerId (text: string): boolean {
  if (text.length === 0 || text.length > 128) return false
  try {
    return peerIdFromString(text).publicKey !== undefined
  } catch {
    return false
  }
}

export function withMeshApi (s3: S3Handler, options: MeshApiOptions): S3Handler {
  const nextRequestId = requestIdSource()
  return async (request: Request, info?: RequestInfo) => {
    const url = new URL(request.url)
    // The IAM and STS APIs are the S3 handler's (it holds the access control).
    if (!url.pathname.startsWith('/_s3mesh/') || url.pathname === ACCESS_API_PATHS.iam || url.pathname === ACCESS_API_PATHS.sts) return await s3(request, info)
    if (info !== undefined) info.operation = 'MeshApi' as RequestInfo['operation']
    if (CROSS_ORIGIN_PATHS.has(url.pathname)) {
      if (request.method === 'OPTIONS') {
        return new Response(null, {
          status: 204,
          headers: {
            'access-control-allow-origin': request.headers.get('origin') ?? '*',
            'access-control-allow-methods': 'GET',
            'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? 'authorization, x-amz-date, x-amz-content-sha256, x-amz-security-token',
            'access-control-max-age': '600',
            vary: 'Origin',
          },
        })
      }
      return withCors(await meshApi(request, url, info), request)
    }
    return await meshApi(request, url, info)
  }

  async function meshApi (request: Request, url: URL, info?: RequestInfo): Promise<Response> {
    try {
      const { access } = options
      const signed = await authenticatePrincipal(request, url, access, { ...(options.credentials === undefined ? {} : { credentials: options.credentials }), hashes: options.hashes, now: Date.now(), clockSkewMs: DEFAULT_CLOCK_SKEW_MS, missingPayloadHash: 'empty' })
      if (signed === undefined) throw new S3Error('AccessDenied', 'The s3mesh API needs a signed request (SigV4).')
      const { principal } = signed
      const isRoot = principal.kind === 'root' && principal.session === undefined
      const admin = (): void => {
        if (access !== undefined && access.decide(principal, { action: 'admin:ServerInfo', resource: '*', context: {} }) !== 'allow') {
          throw new S3Error('AccessDenied', 'The mesh\'s members and figures need admin:ServerInfo (root, or a user with the consoleAdmin policy).')
        }
      }
      if (request.method !== 'GET') throw new S3Error('MethodNotAllowed')
      if (url.pathname === '/_s3mesh/v1/access/me') {
        // Who signed, and the policies that decide what they may do: the console shows only what they can use.
        return Response.json(whoAmI(principal, access), { headers: { 'cache-control': 'no-store' } })
      }
      if (url.pathname === '/_s3mesh/v1/access/state') {
        if (!isRoot || access === undefined) throw new S3Error('AccessDenied', 'The access state (it holds secret keys) is given only to the root credentials.')
        return await sealedJson(access, 'access-state', request, { entries: access.state.all() })
      }
      if (url.pathname === '/_s3mesh/v1/access/session') {
        // What an edge worker (no cluster key) asks to open a client's STS token.
        if (!isRoot || access?.tokens === undefined) throw new S3Error('AccessDenied', 'Session tokens are opened only for the root credentials.')
        return await sealedJson(access, 'access-session', request, await access.tokens.open(request.headers.get('x-s3mesh-session-token') ?? ''))
      }
      if (url.pathname === '/_s3mesh/v1/browser-join') {
        // Any user (or STS session) may join: its tab gets an admission with that user's rights, never a cluster key.
        if (options.browserJoin === undefined) throw new S3Error('NotImplemented', 'This node runs without a mesh.')
        const peer = url.searchParams.get('peer') ?? ''
        if (!isPeerId(peer)) throw new S3Error('InvalidArgument', 'browser-join needs ?peer=<the tab\'s libp2p peer id>.')
        return Response.json(await options.browserJoin(principal, peer, info?.client?.sourceIp), { headers: { 'cache-control': 'no-store' } })
      }
      admin()
      if (url.pathname === '/_s3mesh/v1/members') {
        if (options.transport === undefined) throw new S3Error('NotImplemented', 'This node runs without a mesh.')
        // And the tabs this node admitted that follow it now: guests, not members (their users are not told).
        const guests: MemberView[] = (options.guests?.() ?? []).map(g => ({ id: g.id, state: 'alive', incarnation: 0, role: 'guest', addresses: g.addrs, meta: {} }))
        return Response.json({ members: [...memberViews(options.transport), ...guests] }, { headers: { 'cache-control': 'no-store' } })
      }
      if (url.pathname === '/_s3mesh/v1/metrics' || url.pathname === '/_s3mesh/v1/connections') {
        if (options.stats === undefined) throw new S3Error('NotImplemented', 'This node keeps no figures.')
        const what: StatsKind = url.pathname.endsWith('/metrics') ? 'metrics' : 'connections'
        const member = url.searchParams.get('member') ?? undefined
        return Response.json({ at: Date.now(), [what]: await options.stats(what, member, request.signal) }, { headers: { 'cache-control': 'no-store' } })
      }
      if (url.pathname.startsWith('/_s3mesh/v1/locate/')) {
        if (options.node === undefined) throw new S3Error('NotImplemented', 'This node runs without a mesh.')
        const path = url.pathname.slice('/_s3mesh/v1/locate/'.length)
        const wait = Math.min(Number(url.searchParams.get('wait') ?? 0) || 0, MAX_WAIT_MS)
        const heard = wait > 0 ? await untilKnown(options.node, path, wait, request.signal) : undefined
        return Response.json(await locateView(options.node, path, request.signal, heard), { headers: { 'cache-control': 'no-store' } })
      }
      throw new S3Error('InvalidRequest', `No such s3mesh API: ${url.pathname}`)
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error('InternalError', undefined, { cause: err })
      return errorResponse(e, nextRequestId(), request.method)
    }
  }
}
