/**
 * Who a request comes from and what it may do: the one place the Node
 * server, the service worker and the edge worker ask. It resolves an access
 * key (root, a user's key, or an STS session) to its secret and its
 * principal, and decides each permission a request needs by evaluate(),
 * from the user's and its groups' policies, the bucket's policy and canned
 * ACL, and the session's policy. Parsed policies are cached until the access
 * state changes, so a request costs lookups, not JSON parsing.
 */
import { S3Error } from '../errors.js'
import { idOf, type BucketAclRecord, type BucketPolicyRecord, type CannedAcl, type ObjectAclRecord, type UserRecord } from './access-records.js'
import type { AccessState } from './access-state.js'
import { BUILTIN_POLICIES } from './builtin-policies.js'
import { evaluate, type Caller, type Decision } from './evaluate.js'
import { parsePolicy, type Policy, type PolicyKind, type Statement } from './policy.js'
import { actionMatches, wildcardMatch, substitute, type ContextValues } from './policy-match.js'
import type { TokenService } from './session-token.js'

/** The root credentials: every right, never replicated. */
export interface RootCredential {
  accessKeyId: string
  secretAccessKey: string
}

/** An STS session's limits. */
export interface SessionLimits {
  expires: number
  policy?: Policy
  /** When the session was issued (aws:TokenIssueTime). */
  issued?: number
  /** The user id and the access key it was issued for, checked on every request. */
  userId?: string
  sourceKey?: string
}

/** Who signed a request. */
export type Principal =
  | { kind: 'root', accessKeyId: string, session?: SessionLimits }
  | { kind: 'user', accessKeyId: string, user: UserRecord, session?: SessionLimits }
  | { kind: 'anonymous' }

/** One permission a request needs: an action on a resource, with the request's condition keys. */
export interface Permission {
  action: string
  resource: string
  context: ContextValues
}

export interface AccessControlOptions {
  state: AccessState
  root: RootCredential
  /** Opens STS session tokens; without it, tokens are refused. */
  tokens?: TokenService
  /** The clock, ms since the epoch. */
  now?: () => number
  /** The shortest STS session that may be asked for, seconds (AWS: 900; tests shorten it to see ExpiredToken). */
  sessionMinSeconds?: number
  /**
   * Credentials known here besides the state's (a tab's own, registered by
   * its page: the state it decides with carries no secrets). Asked first.
   */
  known?: (accessKeyId: string, token?: string) => { secret: string, principal: Principal } | undefined
}

/** The ARN s3mesh gives a user: bucket policies name users by it (any account id is accepted there). */
export function userArn (name: string): string {
  return `arn:aws:iam::${MESH_ACCOUNT}:user/${name}`
}

/** The account id in s3mesh's ARNs: a mesh is one account. */
export const MESH_ACCOUNT = '000000000000'

/** Largest number of sessions whose opened token is kept (each is looked up again on every request). */
const SESSION_CACHE = 4096

/** Each parsed policy's source text. */
const sources = new WeakMap<Policy, string>()

export class AccessControl {
  /** Requests refused for want of a permission (AccessDenied), for /metrics. */
  readonly stats = { denied: 0 }
  readonly state: AccessState
  readonly root: RootCredential
  readonly tokens?: TokenService
  readonly sessionMinSeconds: number
  private readonly known: AccessControlOptions['known']
  private readonly now: () => number
  private readonly parsed = new Map<string, Policy | null>()
  private identityCache = new Map<string, Policy[]>()
  private cacheGen = -1
  private readonly sessions = new Map<string, { secret: string, principal: Principal }>()

  constructor (o: AccessControlOptions) {
    this.state = o.state
    this.root = o.root
    if (o.tokens !== undefined) this.tokens = o.tokens
    this.now = o.now ?? Date.now
    this.sessionMinSeconds = o.sessionMinSeconds ?? 900
    this.known = o.known
  }

  /** Drops the object ACL kept for `bucket`/`key`, if one is (its version went; the next write sets the key's own). */
  async forgetObjectAcl (bucket: string, key: string): Promise<void> {
    const id = idOf('object-acl', bucket, key)
    if (this.state.get(id) !== undefined) await this.state.commit([], [id])
  }

  /**
   * The secret and principal of an access key (and session token, for STS
   * credentials). Throws the S3 error a client should see: InvalidAccessKeyId
   * for an unknown, inactive or disabled user's key; ExpiredToken; InvalidToken.
   */
  async resolve (accessKeyId: string, token?: string): Promise<{ secret: string, principal: Principal }> {
    const known = this.known?.(accessKeyId, token === '' ? undefined : token)
    if (known !== undefined) return known
    if (token !== undefined && token !== '') return await this.resolveSession(accessKeyId, token)
    if (accessKeyId === this.root.accessKeyId) return { secret: this.root.secretAccessKey, principal: { kind: 'root', accessKeyId } }
    const key = this.state.key(accessKeyId)
    const unknown = (why: string): S3Error => new S3Error('InvalidAccessKeyId', `The access key ${accessKeyId} ${why}.`, { detail: { AWSAccessKeyId: accessKeyId } })
    if (key === undefined) throw unknown('does not exist in this mesh')
    // Not which (inactive key, disabled or deleted user): whoever holds only the key id learns no more than that.
    const user = this.state.user(key.user)
    if (!key.active || user === undefined || !user.enabled) throw unknown('is not active (the key is inactive, or its user disabled)')
    return { secret: key.secret, principal: { kind: 'user', accessKeyId, user } }
  }

  private async resolveSession (accessKeyId: string, token: string): Promise<{ secret: string, principal: Principal }> {
    let found = this.sessions.get(token)
    if (found === undefined) {
      if (this.tokens === undefined) throw new S3Error('InvalidToken', 'This endpoint does not accept session tokens.')
      const claims = await this.tokens.open(token)
      let policy: Policy | undefined
      if (claims.policy !== undefined) {
        policy = this.parse(claims.policy, 'session') ?? undefined
        if (policy === undefined) throw new S3Error('InvalidToken', 'The session policy in the token is not valid.')
      }
      const session: SessionLimits = {
        expires: claims.expires, ...(policy === undefined ? {} : { policy }), ...(claims.issued === undefined ? {} : { issued: claims.issued }),
        ...(claims.userId === undefined ? {} : { userId: claims.userId }), ...(claims.sourceKey === undefined ? {} : { sourceKey: claims.sourceKey }),
      }
      const principal: Principal = claims.user === undefined
        ? { kind: 'root', accessKeyId: claims.accessKeyId, session }
        : { kind: 'user', accessKeyId: claims.accessKeyId, user: { kind: 'user', name: claims.user, id: '', enabled: true, created: 0 }, session }
      found = { secret: claims.secretAccessKey, principal }
      if (this.sessions.size >= SESSION_CACHE) this.sessions.clear()
      this.sessions.set(token, found)
    }
    const p = found.principal as Exclude<Principal, { kind: 'anonymous' }>
    if (p.accessKeyId !== accessKeyId) throw new S3Error('InvalidToken', 'The session token was not issued for this access key.')
    if (this.now() >= p.session!.expires) throw new S3Error('ExpiredToken', `The provided token expired at ${new Date(p.session!.expires).toISOString()}.`)
    if (p.kind === 'user') {
      // What the token cannot carry: whether its user still exists and is enabled.
      const user = this.state.user(p.user.name)
      const session = p.session!
      if (user === undefined || !user.enabled || (session.userId !== undefined && session.userId !== user.id)) throw new S3Error('InvalidToken', 'The user this token was issued for is disabled or deleted.')
      // And whether the key that asked for it still works: deactivating a leaked key ends the sessions it made.
      if (session.sourceKey !== undefined && session.sourceKey !== '') {
        const key = this.state.key(session.sourceKey)
        if (key === undefined || !key.active || key.user !== user.name) throw new S3Error('InvalidToken', 'The access key this token was issued with is inactive or deleted.')
      }
      return { secret: found.secret, principal: { ...p, user } }
    }
    return found
  }

  /** The policy variables and condition keys a principal brings to every request. */
  principalContext (p: Principal): ContextValues {
    const issued = p.kind !== 'anonymous' && p.session?.issued !== undefined ? { 'aws:TokenIssueTime': new Date(p.session.issued).toISOString() } : {}
    if (p.kind === 'user') {
      return { ...issued, 'aws:username': p.user.name, 'aws:userid': p.user.id, 'aws:PrincipalType': p.session === undefined ? 'User' : 'AssumedRole', 'aws:PrincipalArn': userArn(p.user.name) }
    }
    return { ...issued, 'aws:PrincipalType': p.kind === 'root' ? 'Account' : 'Anonymous' }
  }

  /** Whether a principal may do one thing. */
  decide (p: Principal, perm: Permission): Decision {
    const context = { ...perm.context, ...this.principalContext(p) }
    const bucket = bucketOf(perm.resource)
    const bucketPolicy = bucket === undefined ? undefined : this.bucketPolicy(bucket, p, keyOf(perm.resource))
    if (p.kind === 'root') {
      if (p.session?.policy === undefined) return 'allow'
      return evaluate({ identity: [ALLOW_ALL], session: p.session.policy }, { caller: { kind: 'user', arn: `arn:aws:iam::${MESH_ACCOUNT}:root` }, action: perm.action, resource: perm.resource, context })
    }
    const caller: Caller = p.kind === 'user' ? { kind: 'user', arn: userArn(p.user.name) } : { kind: 'anonymous' }
    return evaluate({
      identity: p.kind === 'user' ? this.identityPolicies(p.user.name) : [],
      ...(bucketPolicy === undefined ? {} : { bucket: bucketPolicy }),
      ...(p.kind === 'user' && p.session?.policy !== undefined ? { session: p.session.policy } : {}),
    }, { caller, action: perm.action, resource: perm.resource, context })
  }

  /** Throws AccessDenied unless every permission is allowed. */
  check (p: Principal, perms: Permission[]): void {
    for (const perm of perms) {
      if (this.decide(p, perm) !== 'allow') {
        this.stats.denied++
        throw new S3Error('AccessDenied', p.kind === 'anonymous'
          ? `Anonymous requests may not ${perm.action} on ${perm.resource}: sign the request, or ask the bucket's owner to allow it in the bucket policy.`
          : `${describe(p)} is not allowed ${perm.action} on ${perm.resource}.`)
      }
    }
  }

  /**
   * Whether ListBuckets shows a bucket to a principal (MinIO's behaviour):
   * every bucket with s3:ListAllMyBuckets, otherwise those some Allow
   * statement of theirs (or the bucket's policy) names.
   */
  seesBucket (p: Principal, bucket: string, context: ContextValues): boolean {
    if (p.kind === 'root' && p.session?.policy === undefined) return true
    if (this.decide(p, { action: 's3:ListAllMyBuckets', resource: 'arn:aws:s3:::*', context }) === 'allow') return true
    const ctx = { ...context, ...this.principalContext(p) }
    const arn = `arn:aws:s3:::${bucket}`
    const s3Action = (s: Statement): boolean => s.actions !== undefined ? s.actions.some(a => a === '*' || a.toLowerCase().startsWith('s3:')) : !(s.notActions ?? []).some(a => a === '*' || a.toLowerCase() === 's3:*')
    const names = (s: Statement): boolean => s.effect === 'Allow' && s3Action(s) && (s.resources ?? []).some(r => {
      if (r === '*') return true
      const pattern = substitute(r, ctx)
      if (pattern === undefined) return false
      const slash = pattern.indexOf('/', 'arn:aws:s3:::'.length)
      return wildcardMatch(pattern, arn) || (slash > 0 && wildcardMatch(pattern.slice(0, slash), arn))
    })
    const identity = p.kind === 'user' ? this.identityPolicies(p.user.name) : p.kind === 'root' ? [p.session!.policy!] : []
    if (identity.some(pol => pol.statements.some(names))) return true
    const bp = this.bucketPolicy(bucket, p)
    return bp !== undefined && bp.statements.some(s => names(s) && (s.principal === '*' || (typeof s.principal === 'object' && (s.principal.AWS.includes('*') || (p.kind === 'user' && s.principal.AWS.includes(userArn(p.user.name)))))))
  }

  /**
   * Whether a policy in force for `p` on `bucket` (its identity's, the
   * bucket's, its session's) has a condition on a key that starts with
   * `prefix` (lower case, as `s3:existingobjecttag/`), in a statement that
   * applies to `action` when one is given: what such a key names is then
   * looked up before the request is decided, and only then.
   */
  conditionsOn (p: Principal, bucket: string, prefix: string, action?: string): boolean {
    if (p.kind === 'root' && p.session?.policy === undefined) return false
    // With `action`: only statements that apply to it (a condition on tags for deletes says nothing of reads).
    const applies = (s: Statement): boolean => action === undefined ||
      (s.actions !== undefined ? s.actions.some(a => actionMatches(a, action)) : !(s.notActions ?? []).some(a => actionMatches(a, action)))
    const names = (s: Statement): boolean => s.condition !== undefined && applies(s) && Object.values(s.condition).some(keys => Object.keys(keys).some(k => k.toLowerCase().startsWith(prefix)))
    const policies = [...p.kind === 'user' ? this.identityPolicies(p.user.name) : [], this.bucketPolicy(bucket, p), p.kind === 'anonymous' ? undefined : p.session?.policy]
    return policies.some(policy => policy?.statements.some(names) === true)
  }

  /** A user's own and its groups' policies, inline and attached. */
  identityPolicies (user: string): Policy[] {
    this.fresh()
    let out = this.identityCache.get(user)
    if (out === undefined) {
      const docs: string[] = []
      const add = (owner: 'user' | 'group', name: string): void => {
        for (const i of this.state.inline(owner, name)) docs.push(i.document)
        for (const a of this.state.attached(owner, name)) {
          const doc = BUILTIN_POLICIES[a.policy] ?? this.state.policy(a.policy)?.document
          if (doc !== undefined) docs.push(doc)
        }
      }
      add('user', user)
      for (const g of this.state.groupsOf(user)) add('group', g)
      out = docs.map(d => this.parse(d, 'identity')).filter((p): p is Policy => p !== null)
      this.identityCache.set(user, out)
    }
    return out
  }

  /** The bucket's policy with its canned ACL (and the object's, for an object) as statements. */
  bucketPolicy (bucket: string, p: Principal, key?: string): Policy | undefined {
    const doc = (this.state.get(idOf('bucket-policy', bucket)) as BucketPolicyRecord | undefined)?.document
    const acl = (this.state.get(idOf('bucket-acl', bucket)) as BucketAclRecord | undefined)?.acl
    const objectAcl = key === undefined ? undefined : (this.state.get(idOf('object-acl', bucket, key)) as ObjectAclRecord | undefined)?.acl
    if (doc === undefined && (acl ?? 'private') === 'private' && (objectAcl ?? 'private') === 'private') return undefined
    const statements: Statement[] = [...(doc === undefined ? [] : this.parse(doc, 'bucket')?.statements ?? [])]
    if (acl !== undefined) statements.push(...aclStatements(acl, `arn:aws:s3:::${bucket}`, p, true))
    if (objectAcl !== undefined && key !== undefined) statements.push(...aclStatements(objectAcl, `arn:aws:s3:::${bucket}/${literal(key)}`, p, false))
    return { version: '2012-10-17', statements }
  }

  /** The canned ACL of a bucket, or of an object. */
  cannedAcl (bucket: string, key?: string): CannedAcl {
    const r = this.state.get(key === undefined ? idOf('bucket-acl', bucket) : idOf('object-acl', bucket, key)) as BucketAclRecord | ObjectAclRecord | undefined
    return r?.acl ?? 'private'
  }

  /** A policy document parsed once; null when a document from a peer does not parse (it then grants nothing). */
  parse (doc: string, kind: PolicyKind): Policy | null {
    const id = `${kind}\n${doc}`
    let p = this.parsed.get(id)
    if (p === undefined) {
      try {
        p = parsePolicy(doc, kind, { kept: true })
        sources.set(p, doc)
      } catch {
        p = null
      }
      if (this.parsed.size >= 1024) this.parsed.clear()
      this.parsed.set(id, p)
    }
    return p
  }

  /** The document a policy was parsed from here (a session's, handed on in a tab's admission). */
  sourceOf (policy: Policy): string | undefined {
    return sources.get(policy)
  }

  private fresh (): void {
    if (this.cacheGen !== this.state.generation) {
      this.identityCache = new Map()
      this.cacheGen = this.state.generation
    }
  }
}

/** The lower-case start of the condition keys that name an object's tags (conditionsOn's `prefix`). */
export const EXISTING_TAG_KEYS = 's3:existingobjecttag/'

/** An object's tags as the condition keys S3 gives them: `s3:ExistingObjectTag/<key>`. */
export function existingTags (tags: Record<string, string> | undefined): ContextValues {
  return Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [`s3:ExistingObjectTag/${k}`, v]))
}

const ALLOW_ALL: Policy = { version: '2012-10-17', statements: [{ effect: 'Allow', actions: ['*'], resources: ['*'] }] }

function describe (p: Principal): string {
  if (p.kind === 'user') return `User ${p.user.name}${p.session === undefined ? '' : ' (temporary credentials)'}`
  return p.kind === 'root' ? 'The root session' : 'An anonymous request'
}

/** A key as a literal in a resource pattern: its own * ? $ are not wildcards or variables. */
function literal (key: string): string {
  return key.replace(/[*?$]/g, c => `\${${c}}`)
}

function bucketOf (resource: string): string | undefined {
  if (!resource.startsWith('arn:aws:s3:::')) return undefined
  const rest = resource.slice('arn:aws:s3:::'.length)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  return bucket === '' || bucket === '*' ? undefined : bucket
}

function keyOf (resource: string): string | undefined {
  const rest = resource.slice('arn:aws:s3:::'.length)
  const slash = rest.indexOf('/')
  return slash < 0 ? undefined : rest.slice(slash + 1)
}

/**
 * A canned ACL as bucket-policy statements. public-read lets anyone list the
 * bucket and read its objects; public-read-write also write and delete them;
 * authenticated-read lets any user of the mesh read. On an object, only that
 * object is read (or written).
 */
function aclStatements (acl: CannedAcl, arn: string, p: Principal, bucket: boolean): Statement[] {
  if (acl === 'private') return []
  if (acl === 'authenticated-read' && p.kind === 'anonymous') return []
  const principal = '*' as const
  const objects = bucket ? `${arn}/*` : arn
  const read: Statement[] = [{ effect: 'Allow', principal, actions: ['s3:GetObject'], resources: [objects] }]
  if (bucket) read.push({ effect: 'Allow', principal, actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: [arn] })
  // WRITE on an object means nothing in S3: an object's public-read-write is public-read.
  if (acl !== 'public-read-write' || !bucket) return read
  return [...read, { effect: 'Allow', principal, actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: [objects] }]
}
