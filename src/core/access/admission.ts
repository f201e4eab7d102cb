/**
 * A guest's admission: what lets a browser tab be a peer of the mesh without
 * the cluster key. The durable member that admitted the tab (after checking
 * its SigV4-signed join) signs, with its libp2p identity key, a short-lived
 * statement: this libp2p peer id speaks for this user (or STS session) until
 * this time, and here are the access records that decide what it may do
 * (without any secret). Every peer the tab talks to checks the signature
 * against the issuer's peer id (an Ed25519 public key), that the issuer is a
 * durable member, that the connection's authenticated peer id is the one
 * admitted, and that it has not expired; then it decides each request with
 * the same policy evaluation the S3 API uses. See docs/tabs.md for the threats.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { decode, encode } from 'cborg'
import { S3Error } from '../errors.js'
import { toHex, utf8 } from '../hashes.js'
import { HybridClock } from '../mesh/hlc.js'
import type { Policy } from './policy.js'
import { AccessControl, type Principal, type SessionLimits } from './access-control.js'
import { asEntry, idOf, type AccessEntry } from './access-records.js'
import { AccessState } from './access-state.js'

/** Who an admission speaks for. */
export interface AdmittedPrincipal {
  kind: 'root' | 'user'
  /** The access key the tab joined with (an STS session's ASIA... key for temporary credentials). */
  accessKeyId: string
  /** The user's name and IAM id (users only): a user deleted and made again is not the one admitted. */
  user?: string
  userId?: string
  /** The STS session's limits, when the tab joined with temporary credentials. */
  session?: { expires: number, policy?: string, issued?: number, sourceKey?: string }
}

export interface Admission {
  /** The admitted tab's libp2p peer id: only a connection authenticated as it may use the admission. */
  peer: string
  /** The durable member that signed it (its peer id is its Ed25519 public key). */
  issuer: string
  cluster: string
  /** ms since the epoch. */
  issued: number
  expires: number
  principal: AdmittedPrincipal
  /** The address the tab joined from (aws:SourceIp for its requests on the mesh, where no address is seen). */
  sourceIp?: string
  /**
   * The records that decide what the principal may do, secrets left out: its
   * user, groups and their policies, and every bucket's policy and canned ACL.
   * A tab decides another tab's requests with them; a durable member decides
   * with its own live state instead.
   */
  records: AccessEntry[]
}

/** Why an admission or a guest's request was refused: each is counted in /metrics. */
export type GuestRefusal = 'malformed' | 'bad-signature' | 'unknown-issuer' | 'wrong-peer' | 'other-cluster' | 'expired' | 'revoked' | 'denied' | 'not-a-holding'

export class GuestRefusedError extends Error {
  override name = 'GuestRefusedError'
  constructor (readonly reason: GuestRefusal, message: string) { super(message) }
}

/** Tells an admission apart from anything else an identity key signs (libp2p's own records). */
const DOMAIN = utf8('s3mesh/admission/1\n')
/** Larger admissions are refused unread: a bound on what a peer makes us parse. */
export const MAX_ADMISSION_BYTES = 256 * 1024

/** How long an admission lasts unless configured: revocation reaches tab-to-tab traffic within it. */
export const DEFAULT_ADMISSION_MS = 60_000

/** Signs bytes with the issuing member's libp2p identity key. */
export type Sign = (data: Uint8Array) => Promise<Uint8Array> | Uint8Array

export interface IssueOptions {
  access: AccessControl
  principal: Principal
  /** The tab's libp2p peer id. */
  peer: string
  /** This member's peer id, and its identity key's signature. */
  issuer: string
  sign: Sign
  cluster: string
  now: number
  lifetimeMs?: number
  /** The join request's client address. */
  sourceIp?: string
}

/** Signs an admission for a principal that has just proved its credentials (a SigV4-signed join). */
export async function issueAdmission (o: IssueOptions): Promise<{ bytes: Uint8Array, admission: Admission }> {
  const p = o.principal
  if (p.kind === 'anonymous') throw new S3Error('AccessDenied', 'Joining the mesh needs credentials.')
  const lifetime = o.lifetimeMs ?? DEFAULT_ADMISSION_MS
  const session = p.session === undefined ? undefined : sessionOf(p.session, o.access)
  const expires = Math.min(o.now + lifetime, p.session?.expires ?? Infinity)
  const principal: AdmittedPrincipal = {
    kind: p.kind, accessKeyId: p.accessKeyId,
    ...(p.kind === 'user' ? { user: p.user.name, userId: p.session?.userId ?? p.user.id } : {}),
    ...(session === undefined ? {} : { session }),
  }
  const admission: Admission = {
    peer: o.peer, issuer: o.issuer, cluster: o.cluster, issued: o.now, expires, principal, records: recordsFor(o.access, p),
    ...(o.sourceIp === undefined ? {} : { sourceIp: o.sourceIp }),
  }
  const body = encode(admission)
  const sig = await o.sign(concat(DOMAIN, body))
  // The issuer beside the body too: a peer checks the signature before it parses the records.
  const bytes = encode({ body, sig, issuer: o.issuer })
  if (bytes.byteLength > MAX_ADMISSION_BYTES) throw new S3Error('InvalidRequest', `This user's admission would be ${bytes.byteLength} bytes (its policies and the buckets' it can see), over the ${MAX_ADMISSION_BYTES} peers accept: shorten them.`)
  return { bytes, admission }
}

function sessionOf (s: SessionLimits, access: AccessControl): AdmittedPrincipal['session'] {
  const policy = s.policy === undefined ? undefined : documentOf(s.policy, access)
  // Never without the session's cap: a session whose policy cannot be handed on is not admitted.
  if (s.policy !== undefined && policy === undefined) throw new S3Error('InternalError', 'The session policy could not be handed to the tab.')
  return { expires: s.expires, ...(policy === undefined ? {} : { policy }), ...(s.issued === undefined ? {} : { issued: s.issued }), ...(s.sourceKey === undefined ? {} : { sourceKey: s.sourceKey }) }
}

/** A parsed session policy's source: kept beside the parse by AccessControl. */
function documentOf (policy: Policy, access: AccessControl): string | undefined {
  return access.sourceOf(policy)
}

/**
 * The records deciding a principal's rights, without secrets (key records are
 * left out), and the policies and ACLs of the buckets it can see only: other
 * buckets' names and policies are none of its business.
 */
function recordsFor (access: AccessControl, p: Principal): AccessEntry[] {
  const state = access.state
  const ids = new Set<string>()
  const owner = (kind: 'user' | 'group', name: string): void => {
    for (const i of state.inline(kind, name)) ids.add(idOf('inline', kind, name, i.policy))
    for (const a of state.attached(kind, name)) {
      ids.add(idOf('attach', kind, name, a.policy))
      ids.add(idOf('policy', a.policy))
    }
  }
  if (p.kind === 'user') {
    ids.add(idOf('user', p.user.name))
    owner('user', p.user.name)
    for (const g of state.groupsOf(p.user.name)) {
      ids.add(idOf('group', g))
      ids.add(idOf('member', g, p.user.name))
      owner('group', g)
    }
  }
  const sees = new Map<string, boolean>()
  const visible = (bucket: string): boolean => {
    let v = sees.get(bucket)
    if (v === undefined) sees.set(bucket, v = access.seesBucket(p, bucket, {}))
    return v
  }
  return state.all().filter(e => e.record !== undefined && (ids.has(e.id) || ((e.record.kind === 'bucket-policy' || e.record.kind === 'bucket-acl') && visible(e.record.bucket))))
}

export interface VerifierOptions {
  cluster: string
  /** Whether a peer id is a durable member's (only they admit guests). */
  isIssuer: (peer: string) => boolean
  now?: () => number
}

/**
 * Checks admissions: the signature once per admission (cached), then on every
 * use the peer it is used from, its issuer and its expiry.
 */
export class AdmissionVerifier {
  private readonly signed = new Map<string, Admission>()
  private readonly now: () => number

  constructor (private readonly o: VerifierOptions) {
    this.now = o.now ?? Date.now
  }

  /** The admission `bytes` carry, if `from` (the connection's authenticated peer) may use it now. Throws GuestRefusedError. */
  async verify (bytes: unknown, from: string): Promise<Admission> {
    if (!(bytes instanceof Uint8Array) || bytes.byteLength > MAX_ADMISSION_BYTES) throw new GuestRefusedError('malformed', 'A request without an admission (or one too large).')
    let env: { body?: unknown, sig?: unknown, issuer?: unknown }
    try {
      env = decode(bytes) as { body?: unknown, sig?: unknown, issuer?: unknown }
    } catch {
      throw new GuestRefusedError('malformed', 'A malformed admission.')
    }
    if (!(env.body instanceof Uint8Array) || !(env.sig instanceof Uint8Array) || typeof env.issuer !== 'string') throw new GuestRefusedError('malformed', 'An admission without its body, signature or issuer.')
    // Known by its signature: each admission's is its own (Ed25519 signs the body, issue time included).
    const id = toHex(env.sig)
    let a = this.signed.get(id)
    if (a === undefined) {
      if (!this.o.isIssuer(env.issuer)) throw new GuestRefusedError('unknown-issuer', `${env.issuer.slice(0, 80)}, which signed this admission, is not a durable member known here.`)
      a = await this.open(env.body, env.sig, env.issuer)
      if (this.signed.size >= 1000) this.signed.clear()
      this.signed.set(id, a)
    }
    if (a.peer !== from) throw new GuestRefusedError('wrong-peer', `This admission was given to ${a.peer}, not to ${from}.`)
    if (a.cluster !== this.o.cluster) throw new GuestRefusedError('other-cluster', `This admission is for the cluster ${a.cluster}.`)
    if (!this.o.isIssuer(a.issuer)) throw new GuestRefusedError('unknown-issuer', `${a.issuer}, which signed this admission, is not a durable member known here.`)
    if (this.now() >= a.expires) throw new GuestRefusedError('expired', `This admission expired at ${new Date(a.expires).toISOString()}; the tab renews it with its node.`)
    return a
  }

  /** Checks the signature (nothing is parsed before), then the body. */
  private async open (body: Uint8Array, sig: Uint8Array, issuer: string): Promise<Admission> {
    let ok = false
    try {
      const key = peerIdFromString(issuer).publicKey
      ok = key !== undefined && await key.verify(concat(DOMAIN, body), sig)
    } catch {
      ok = false
    }
    if (!ok) throw new GuestRefusedError('bad-signature', `The admission is not signed by ${issuer.slice(0, 80)}.`)
    let a: Admission
    try {
      a = asAdmission(decode(body))
    } catch (err) {
      throw new GuestRefusedError('malformed', `A malformed admission: ${err instanceof Error ? err.message : String(err)}.`)
    }
    if (a.issuer !== issuer) throw new GuestRefusedError('malformed', 'The admission names another issuer than the one that signed it.')
    return a
  }
}

/**
 * An admission's content, unverified: for the tab it was given to (it came
 * from its node over HTTPS), which decides its own page's requests with it.
 */
export function readAdmission (bytes: Uint8Array): Admission {
  const env = decode(bytes) as { body?: unknown }
  if (!(env.body instanceof Uint8Array)) throw new GuestRefusedError('malformed', 'An admission without its body.')
  return asAdmission(decode(env.body))
}

/** Validates a decoded admission's shape; throws on anything else. */
function asAdmission (v: unknown): Admission {
  const o = v as Record<string, unknown>
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length < 512
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)
  if (typeof o !== 'object' || o === null || !str(o.peer) || !str(o.issuer) || typeof o.cluster !== 'string' || !num(o.issued) || !num(o.expires)) throw new Error('missing fields')
  const p = o.principal as Record<string, unknown> | undefined
  if (typeof p !== 'object' || p === null || (p.kind !== 'root' && p.kind !== 'user') || !str(p.accessKeyId)) throw new Error('no principal')
  if (p.kind === 'user' && (!str(p.user) || typeof p.userId !== 'string')) throw new Error('a user principal without its user')
  const s = p.session as Record<string, unknown> | undefined
  if (s !== undefined && (typeof s !== 'object' || s === null || !num(s.expires) || (s.policy !== undefined && typeof s.policy !== 'string'))) throw new Error('a malformed session')
  if (!Array.isArray(o.records)) throw new Error('no records')
  const records = o.records.map(r => {
    const e = asEntry(r)
    if (e === undefined || e.record === undefined || e.record.kind === 'key') throw new Error('a malformed record')
    return e
  })
  if (o.sourceIp !== undefined && typeof o.sourceIp !== 'string') throw new Error('a malformed source address')
  return {
    peer: o.peer, issuer: o.issuer, cluster: o.cluster, issued: o.issued, expires: o.expires, principal: p as unknown as AdmittedPrincipal, records,
    ...(typeof o.sourceIp === 'string' ? { sourceIp: o.sourceIp } : {}),
  }
}

/**
 * The access control and principal that decide an admitted guest's requests.
 * On a durable member, `live` is the member's own AccessControl: the user
 * must still exist with the id admitted and be enabled, its key (or the key
 * its session came from) active, its session unexpired, so a revocation
 * takes effect at once there. A tab has no access state: it decides with the
 * records the admission carries (`live` undefined), for at most its lifetime.
 */
export function guestPrincipal (a: Admission, live: AccessControl | undefined, access = live ?? controlFromRecords(a), checkExpiry = true): { access: AccessControl, principal: Principal } {
  const p = a.principal
  const session = p.session === undefined ? undefined : sessionLimits(p, access)
  if (checkExpiry && session !== undefined && Date.now() >= session.expires) throw new GuestRefusedError('expired', 'The STS session this tab joined with has expired.')
  if (p.kind === 'root') {
    if (live !== undefined && session === undefined && p.accessKeyId !== live.root.accessKeyId) throw new GuestRefusedError('revoked', 'The root credentials changed since this tab was admitted.')
    return { access, principal: { kind: 'root', accessKeyId: p.accessKeyId, ...(session === undefined ? {} : { session }) } }
  }
  const user = access.state.user(p.user!)
  if (user === undefined || !user.enabled || user.id !== p.userId) throw new GuestRefusedError('revoked', `The user ${p.user!} is disabled or deleted.`)
  if (live !== undefined) {
    const keyId = p.session === undefined ? p.accessKeyId : p.session.sourceKey
    const key = keyId === undefined || keyId === '' ? undefined : live.state.key(keyId)
    if (keyId !== undefined && keyId !== '' && (key === undefined || !key.active || key.user !== user.name)) throw new GuestRefusedError('revoked', `The access key ${keyId} is inactive or deleted.`)
  }
  return { access, principal: { kind: 'user', accessKeyId: p.accessKeyId, user, ...(session === undefined ? {} : { session }) } }
}

function sessionLimits (p: AdmittedPrincipal, access: AccessControl): SessionLimits {
  const s = p.session!
  let policy: Policy | undefined
  if (s.policy !== undefined) {
    policy = access.parse(s.policy, 'session') ?? undefined
    // A policy that does not parse grants nothing: a session narrowed by it may do nothing.
    policy ??= { version: '2012-10-17', statements: [] }
  }
  return {
    expires: s.expires, ...(policy === undefined ? {} : { policy }), ...(s.issued === undefined ? {} : { issued: s.issued }),
    ...(p.userId === undefined ? {} : { userId: p.userId }), ...(s.sourceKey === undefined ? {} : { sourceKey: s.sourceKey }),
  }
}

const fromRecords = new WeakMap<Admission, AccessControl>()

/** A read-only access control over an admission's records (no keys, no root that anyone can sign as). */
export function controlFromRecords (a: Admission): AccessControl {
  let c = fromRecords.get(a)
  if (c === undefined) {
    const state = new AccessState(`admission:${a.peer}`, new HybridClock(), true)
    void state.merge(a.records, false, true)
    c = new AccessControl({ state, root: { accessKeyId: `\0${a.issuer}`, secretAccessKey: '\0' } })
    fromRecords.set(a, c)
  }
  return c
}

/**
 * What a tab decides its own page's requests with (its page node's handler,
 * its service worker): the access records and principal of its latest
 * admission, and its own credentials so that requests it signs resolve. Kept
 * past the admission's expiry: a tab cut off from its node still reads what
 * it holds with its user's rights as last known (the data is the origin's
 * own IndexedDB); its writes go to a node, which decides them afresh.
 */
export function tabAccess (bytes: Uint8Array, credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }): { access: AccessControl, principal: Principal, admission: Admission } {
  const admission = readAdmission(bytes)
  const state = new AccessState(`tab:${admission.peer}`, new HybridClock(), true)
  // Merged at once (the entries are set before merge's first await; nothing listens).
  void state.merge(admission.records, false, true)
  // The principal is made with the access control that resolves to it.
  const own: { principal?: Principal } = {}
  const access = new AccessControl({
    state,
    root: { accessKeyId: `\0${admission.issuer}`, secretAccessKey: '\0' },
    known: (id, token) => {
      if (id !== credentials.accessKeyId || token !== credentials.sessionToken || own.principal === undefined) return undefined
      const session = own.principal.kind === 'anonymous' ? undefined : own.principal.session
      if (session !== undefined && Date.now() >= session.expires) throw new S3Error('ExpiredToken', `The provided token expired at ${new Date(session.expires).toISOString()}.`)
      return { secret: credentials.secretAccessKey, principal: own.principal }
    },
  })
  own.principal = guestPrincipal(admission, undefined, access, false).principal
  return { access, principal: own.principal, admission }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a)
  out.set(b, a.byteLength)
  return out
}
