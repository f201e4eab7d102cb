/**
 * Whether a request is allowed, as AWS documents the evaluation: an explicit
 * Deny in any policy that applies wins; otherwise an Allow from an identity
 * policy (the user's and its groups') or from the bucket's policy allows;
 * otherwise the request is denied. A session policy (STS) narrows: the
 * request must also be allowed by it.
 */
import type { Policy, Principal, Statement } from './policy.js'
import { conditionsHold } from './conditions.js'
import { actionMatches, patternMatches, type ContextValues } from './policy-match.js'

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

export function evaluate (policies: PoliciesInForce, request: AccessRequest): Decision {
  const applicable = (p: Policy, withPrincipal: boolean): Statement[] => p.statements.filter(s => applies(s, request, withPrincipal))
  const identity = policies.identity.flatMap(p => applicable(p, false))
  const bucket = policies.bucket === undefined ? [] : applicable(policies.bucket, true)
  const session = policies.session === undefined ? undefined : applicable(policies.session, false)
  const all = [...identity, ...bucket, ...session ?? []]
  if (all.some(s => s.effect === 'Deny')) return 'explicit-deny'
  const allowedByIdentity = identity.some(s => s.effect === 'Allow')
  const allowedByBucket = bucket.some(s => s.effect === 'Allow')
  if (session !== undefined) {
    // A session's rights are what its policy grants of the identity's; a bucket policy naming the caller still grants.
    const sessionAllows = session.some(s => s.effect === 'Allow')
    return (allowedByIdentity && sessionAllows) || allowedByBucket ? 'allow' : 'implicit-deny'
  }
  return allowedByIdentity || allowedByBucket ? 'allow' : 'implicit-deny'
}

function applies (s: Statement, r: AccessRequest, withPrincipal: boolean): boolean {
  if (withPrincipal) {
    if (s.principal !== undefined && !principalMatches(s.principal, r.caller)) return false
    if (s.notPrincipal !== undefined && principalMatches(s.notPrincipal, r.caller)) return false
  }
  if (s.actions !== undefined && !s.actions.some(a => actionMatches(a, r.action))) return false
  if (s.notActions !== undefined && s.notActions.some(a => actionMatches(a, r.action))) return false
  if (s.resources !== undefined && !s.resources.some(p => patternMatches(p, r.resource, r.context))) return false
  if (s.notResources !== undefined && s.notResources.some(p => patternMatches(p, r.resource, r.context))) return false
  return conditionsHold(s.condition, r.context)
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
