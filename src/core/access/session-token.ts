/**
 * STS session tokens that carry their own credentials: the temporary access
 * key, its secret, the user it speaks for, its expiry and its session policy,
 * sealed with a key every node holds (the cluster key on a mesh; a key derived
 * from the root secret on a lone node). Any node opens a token it is shown, so
 * a credential issued by one node works on every other at once, with nothing
 * replicated; what the token cannot carry — whether its user is still enabled
 * — is checked against the access state on every request.
 */
import { decode, encode } from 'cborg'
import { S3Error } from '../errors.js'
import { utf8 } from '../hashes.js'

/** Seals and opens bytes: a Keyring does. */
export interface Sealer {
  seal (plain: Uint8Array): Promise<Uint8Array>
  open (sealed: Uint8Array): Promise<Uint8Array>
}

export interface SessionClaims {
  /** The temporary access key id (ASIA...). */
  accessKeyId: string
  secretAccessKey: string
  /** The user whose rights the session has; undefined for the root credentials. */
  user?: string
  /** When the credentials stop working, ms since the epoch. */
  expires: number
  /** The session policy's JSON, narrowing the user's rights. */
  policy?: string
  /** The user's id when issued: a user deleted and made again under the name does not inherit the session. */
  userId?: string
  /** The access key that asked for it: the session ends when that key is deactivated or deleted. */
  sourceKey?: string
  /** When it was issued, ms since the epoch (aws:TokenIssueTime). */
  issued?: number
}

/** Tells a token apart from anything else sealed with the same key (gossip, transfers). */
const DOMAIN = utf8('s3mesh/sts-token/1\n')

/** Issues and opens session tokens: SessionTokens on a member; a worker asks a member. */
export interface TokenService {
  issue (claims: SessionClaims): Promise<string>
  /** The claims of a token; S3Error InvalidToken when it is not one of this mesh's. */
  open (token: string): Promise<SessionClaims>
}

export class SessionTokens implements TokenService {
  constructor (private readonly sealer: Sealer) {}

  async issue (claims: SessionClaims): Promise<string> {
    const body = encode({
      k: claims.accessKeyId, s: claims.secretAccessKey, e: claims.expires,
      ...(claims.user === undefined ? {} : { u: claims.user }), ...(claims.policy === undefined ? {} : { p: claims.policy }),
      ...(claims.userId === undefined ? {} : { i: claims.userId }), ...(claims.sourceKey === undefined ? {} : { f: claims.sourceKey }),
      ...(claims.issued === undefined ? {} : { t: claims.issued }),
    })
    const plain = new Uint8Array(DOMAIN.byteLength + body.byteLength)
    plain.set(DOMAIN)
    plain.set(body, DOMAIN.byteLength)
    return toBase64Url(await this.sealer.seal(plain))
  }

  /** The claims of a token; InvalidToken when it was not sealed by this mesh or is malformed. Expiry is the caller's to check. */
  async open (token: string): Promise<SessionClaims> {
    const invalid = new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.')
    const sealed = fromBase64Url(token)
    if (sealed === undefined || token.length > 8192) throw invalid
    let plain: Uint8Array
    try {
      plain = await this.sealer.open(sealed)
    } catch {
      throw invalid
    }
    if (plain.byteLength < DOMAIN.byteLength || !DOMAIN.every((b, i) => plain[i] === b)) throw invalid
    let c: Record<string, unknown>
    try {
      c = decode(plain.subarray(DOMAIN.byteLength), { strict: true, useMaps: false }) as Record<string, unknown>
    } catch {
      throw invalid
    }
    const optional = (v: unknown, type: string): boolean => v === undefined || typeof v === type
    if (typeof c.k !== 'string' || typeof c.s !== 'string' || typeof c.e !== 'number' || !optional(c.u, 'string') || !optional(c.p, 'string') || !optional(c.i, 'string') || !optional(c.f, 'string') || !optional(c.t, 'number')) throw invalid
    return {
      accessKeyId: c.k, secretAccessKey: c.s, expires: c.e,
      ...(c.u === undefined ? {} : { user: c.u as string }), ...(c.p === undefined ? {} : { policy: c.p as string }),
      ...(c.i === undefined ? {} : { userId: c.i as string }), ...(c.f === undefined ? {} : { sourceKey: c.f as string }),
      ...(c.t === undefined ? {} : { issued: c.t as number }),
    }
  }
}

function toBase64Url (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url (text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined
  try {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(s, c => c.charCodeAt(0))
  } catch {
    return undefined
  }
}
