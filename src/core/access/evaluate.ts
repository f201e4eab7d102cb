/**
 * Whether a request is allowed, as AWS documents the evaluation: an explicit
 * Deny in any policy that applies wins; otherwise an Allow from an identity
 * policy (the user's and its groups') or from the bucket's policy allows;
 * otherwise the request is denied. A session policy (STS) narrows: the
 * request must also be allowed by it.
 */
import type { Policy, Principal, Statement } from './policy.js'
import { conditionsHold, type AmbiguousKeys } from './conditions.js'
import { actionMatches, patternMatches, variableKeys, type ContextValues } from './policy-match.js'

/** Who is asking: an authenticated user (its ARN, for bucket policies' principals), or nobody (anonymous). */
export type Caller = { kind: 'user', arn: string } | { kind: 'anonymous' }

export interface AccessRequest {
  caller: Caller
  /** The S3 action, as in policies: s3:GetObject. */
  action: string
  /** The resource's ARN: arn:aws:s3:::bucket or arn:aws:s3:::bucket/key. */
  resource: string
  /** Condition keys and policy variables: aws:username, aws:userid, aws:SourceIp, s3:prefix, ... */
  context: ContextValues
}

export interface PoliciesInForce {
  /** The caller's own and its groups' policies (none for anonymous callers). */
  identity: Policy[]
  /** The bucket's policy, if it has one. */
  bucket?: Policy
  /** An STS session's inline policy, if the credentials carry one. */
  session?: Policy
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny'

export function evaluate (policies: PoliciesInForce, given: AccessRequest): Decision {
  // Condition keys are case-insensitive: looked up as written, then in lower case (withLowerKeys).
  const { context, ambiguous } = withLowerKeys(given.context)
  const request = { ...given, context }
  const applicable = (p: Policy, withPrincipal: boolean): Statement[] => p.statements.filter(s => applies(s, request, withPrincipal, ambiguous))
  const identity = policies.identity.flatMap(p => applicable(p, false))
  const bucket = policies.bucket === undefined ? [] : applicable(policies.bucket, true)
  const session = policies.session === undefined ? undefined : applicable(policies.session, false)
  const all = [...identity, ...bucket, ...session ?? []]
  if (all.some(s => s.effect === 'Deny')) return 'explicit-deny'
  const allowedByIdentity = identity.some(s => s.effect === 'Allow')
  // A bucket policy grants by itself only to the principals it names; naming the account delegates to identity policies.
  const allowedByBucket = bucket.some(s => s.effect === 'Allow' && grantsDirectly(s, request.caller))
  if (session !== undefined) {
    // A session has what its policy grants of the identity's rights. A bucket policy's grant to a user is capped by
    // the session too (AWS: only one naming the session itself is not); a grant to everyone is no more than anyone has.
    const sessionAllows = session.some(s => s.effect === 'Allow')
    const publicGrant = bucket.some(s => s.effect === 'Allow' && isEveryone(s.principal))
    return (sessionAllows && (allowedByIdentity || allowedByBucket)) || publicGrant ? 'allow' : 'implicit-deny'
  }
  return allowedByIdentity || allowedByBucket ? 'allow' : 'implicit-deny'
}

function applies (s: Statement, r: AccessRequest, withPrincipal: boolean, ambiguous: AmbiguousKeys): boolean {
  if (withPrincipal) {
    if (s.principal !== undefined && !principalMatches(s.principal, r.caller)) return false
    if (s.notPrincipal !== undefined && principalMatches(s.notPrincipal, r.caller)) return false
  }
  if (s.actions !== undefined && !s.actions.some(a => actionMatches(a, r.action))) return false
  if (s.notActions !== undefined && s.notActions.some(a => actionMatches(a, r.action))) return false
  // A variable that could be either of two keys differing only in case has no one value: a Deny holds, an Allow does not.
  if (namesAmbiguous(s, r.context, ambiguous)) return s.effect === 'Deny'
  if (s.resources !== undefined && !s.resources.some(p => patternMatches(p, r.resource, r.context))) return false
  if (s.notResources !== undefined && s.notResources.some(p => patternMatches(p, r.resource, r.context))) return false
  if (s.unreadableCondition === true) return s.effect === 'Deny'
  return conditionsHold(s.condition, r.context, ambiguous, s.effect)
}

/** Whether a statement's resources or condition values name an ambiguous key (not one of them as written) as a policy variable. */
function namesAmbiguous (s: Statement, context: ContextValues, ambiguous: AmbiguousKeys): boolean {
  if (ambiguous.size === 0) return false
  const texts = [...s.resources ?? [], ...s.notResources ?? [], ...Object.values(s.condition ?? {}).flatMap(keys => Object.values(keys).flat())]
  return texts.some(t => variableKeys(t).some(k => !Object.hasOwn(context, k) && ambiguous.has(k.toLowerCase())))
}

/**
 * The context with each key in lower case too, for a policy that writes it in
 * another case. Keys stay as they are: two that differ only in case (tags Team
 * and team, which S3 keeps apart) each answer a policy naming one as written;
 * named in a third case they are `ambiguous` (conditionsHold: a Deny holds
 * with either value, an Allow needs both), so a tag whose key differs only in
 * case neither passes a Deny nor meets an Allow.
 */
function withLowerKeys (given: ContextValues): { context: ContextValues, ambiguous: AmbiguousKeys } {
  const context: ContextValues = { ...given }
  const lowered = new Map<string, Array<string | string[]>>()
  for (const [k, v] of Object.entries(given)) {
    const lower = k.toLowerCase()
    if (v === undefined || Object.hasOwn(given, lower)) continue
    const values = lowered.get(lower)
    if (values === undefined) lowered.set(lower, [v])
    else values.push(v)
  }
  const ambiguous = new Map<string, Array<string | string[]>>()
  for (const [lower, values] of lowered) {
    if (values.length === 1) context[lower] = values[0]
    else ambiguous.set(lower, values)
  }
  return { context, ambiguous }
}

function isEveryone (p: Principal | undefined): boolean {
  return p === '*' || (typeof p === 'object' && p.AWS.includes('*'))
}

/** Whether an Allow in a bucket policy grants by itself: it names everyone or the caller, not just its account. */
function grantsDirectly (s: Statement, caller: Caller): boolean {
  if (s.principal === undefined) return true // NotPrincipal: it applied, so it names the caller by exclusion
  if (isEveryone(s.principal)) return true
  return caller.kind === 'user' && s.principal !== '*' && s.principal.AWS.some(a => a === caller.arn || (!isAccount(a) && sameIdentity(a, caller.arn)))
}

function isAccount (principal: string): boolean {
  return /^\d{12}$/.test(principal) || /^arn:aws:iam::[^:]*:root$/.test(principal)
}

function principalMatches (p: Principal, caller: Caller): boolean {
  if (p === '*') return true
  return p.AWS.some(a => a === '*' || (caller.kind === 'user' && sameIdentity(a, caller.arn)))
}

/**
 * Whether a principal in a bucket policy names the caller. A mesh is one
 * account, so the account id in the ARN is not compared: `user/NAME` names
 * that user, the account's `root` (or a bare account id) every user of the mesh.
 */
function sameIdentity (principal: string, arn: string): boolean {
  if (principal === arn) return true
  if (/^\d{12}$/.test(principal)) return true
  const m = /^arn:aws:iam::[^:]*:(.+)$/.exec(principal)
  const c = /^arn:aws:iam::[^:]*:(.+)$/.exec(arn)
  if (m === null || c === null) return false
  return m[1] === 'root' || m[1] === c[1]
}
