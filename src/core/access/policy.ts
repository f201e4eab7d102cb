/**
 * AWS IAM policy documents (Version 2012-10-17), parsed strictly: a document
 * that is not well-formed is refused whole, with a message naming the
 * statement and the field, never half-applied.
 */
import { valueProblem } from './conditions.js'

/** Where a policy is attached: a user or group (identity), a bucket, or an STS session (narrowing only). */
export type PolicyKind = 'identity' | 'bucket' | 'session'

/** Largest document accepted, characters, by kind (AWS: managed policies 6,144, bucket policies 20 KB, session policies 2,048). */
export const POLICY_SIZE_LIMITS: Record<PolicyKind, number> = { identity: 6144, bucket: 20 * 1024, session: 2048 }

export type Effect = 'Allow' | 'Deny'

/** One condition block: operator -> key -> the values to compare with. */
export type ConditionBlock = Record<string, Record<string, string[]>>

/** A principal in a bucket policy: everyone, or AWS principals by ARN (or '*'). */
export type Principal = '*' | { AWS: string[] }

export interface Statement {
  sid?: string
  effect: Effect
  /** Exactly one of actions and notActions. */
  actions?: string[]
  notActions?: string[]
  /** Exactly one of resources and notResources. */
  resources?: string[]
  notResources?: string[]
  /** Bucket policies only: exactly one of principal and notPrincipal. */
  principal?: Principal
  notPrincipal?: Principal
  condition?: ConditionBlock
  /**
   * A kept document's condition holds a value its operator cannot compare
   * (accepted before values were checked): the statement is read the safe
   * way, an Allow applying to nothing and a Deny to everything it names.
   */
  unreadableCondition?: true
}

export interface Policy {
  version: '2012-10-17' | '2008-10-17'
  id?: string
  statements: Statement[]
}

/** A document that is not a policy S3 can enforce (IAM's MalformedPolicyDocument). */
export class MalformedPolicyError extends Error {
  override name = 'MalformedPolicyError'
  readonly code = 'MalformedPolicyDocument'
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition'])

function strings (v: unknown, where: string): string[] {
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || !list.every(s => typeof s === 'string' && s !== '')) throw new MalformedPolicyError(`${where} must be a string or a non-empty list of strings.`)
  return list as string[]
}

function principal (v: unknown, where: string): Principal {
  if (v === '*') return '*'
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === 'AWS') return { AWS: strings((v as { AWS: unknown }).AWS, `${where}.AWS`) }
  }
  throw new MalformedPolicyError(`${where} must be "*" or {"AWS": ...} (s3mesh has no other principal types).`)
}

/**
 * A condition key: a prefix, a colon, a name (aws:SourceIp; s3:RequestObjectTag/Cost Center, whose tag key may hold
 * spaces; cognito-identity.amazonaws.com:sub). What has no colon (__proto__, constructor) is none.
 */
const CONDITION_KEY = /^[^:\s]+:.+$/

/** A statement's Condition; `unreadable` when a kept document's value cannot be compared (a new document's is refused). */
function condition (v: unknown, where: string, kept: boolean): { block: ConditionBlock, unreadable: boolean } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedPolicyError(`${where} must be an object of operators.`)
  const block: ConditionBlock = {}
  let unreadable = false
  for (const [operator, keys] of Object.entries(v)) {
    if (!isOperator(operator)) throw new MalformedPolicyError(`${where}: unknown condition operator ${operator}.`)
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw new MalformedPolicyError(`${where}.${operator} must be an object of condition keys.`)
    block[operator] = {}
    for (const [key, values] of Object.entries(keys)) {
      const list = typeof values === 'string' || typeof values === 'number' || typeof values === 'boolean' ? [values] : values
      if (!Array.isArray(list) || list.length === 0 || !list.every(x => ['string', 'number', 'boolean'].includes(typeof x))) {
        throw new MalformedPolicyError(`${where}.${operator}.${key} must be a value or a non-empty list of values.`)
      }
      // A key is prefix:name (aws:SourceIp, s3:prefix): one such as __proto__ would not be an entry of the block but
      // its prototype, and the condition would vanish (an Allow for everyone).
      if (!CONDITION_KEY.test(key)) {
        if (!kept) throw new MalformedPolicyError(`${where}.${operator}: ${JSON.stringify(key)} is not a condition key (prefix:name, as aws:SourceIp).`)
        unreadable = true
        continue
      }
      const strings = list.map(String)
      for (const value of strings) {
        const problem = valueProblem(baseOperator(operator), value)
        if (problem === undefined) continue
        if (!kept) throw new MalformedPolicyError(`${where}.${operator}.${key}: ${problem}.`)
        unreadable = true
      }
      block[operator][key] = strings
    }
  }
  return { block, unreadable }
}

const BASE_OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnNotEquals', 'ArnLike', 'ArnNotLike', 'Null',
])

/** An operator without its ForAnyValue:/ForAllValues: prefix and IfExists suffix (StringEquals for ForAllValues:StringEqualsIfExists). */
function baseOperator (name: string): string {
  return name.replace(/^For(AnyValue|AllValues):/, '').replace(/IfExists$/, '')
}

/** A condition operator, with its optional ForAnyValue:/ForAllValues: prefix and IfExists suffix. */
export function isOperator (name: string): boolean {
  const base = baseOperator(name)
  return BASE_OPERATORS.has(base) && !(name.endsWith('IfExists') && base === 'Null')
}

/**
 * Parses and checks a policy document of a kind; throws MalformedPolicyError
 * naming what is wrong. `kept`: a document accepted before (stored, a
 * peer's, a token's), whose condition values are not refused: one an
 * earlier release accepted keeps its Deny statements rather than being
 * dropped whole (see Statement.unreadableCondition).
 */
export function parsePolicy (text: string, kind: PolicyKind, { kept = false }: { kept?: boolean } = {}): Policy {
  if (text.length > POLICY_SIZE_LIMITS[kind]) throw new MalformedPolicyError(`The policy is ${text.length} characters; ${kind === 'identity' ? 'an' : 'a'} ${kind} policy may have at most ${POLICY_SIZE_LIMITS[kind]}.`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new MalformedPolicyError(`The policy is not JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MalformedPolicyError('The policy must be a JSON object.')
  const d = doc as Record<string, unknown>
  for (const k of Object.keys(d)) if (!['Version', 'Id', 'Statement'].includes(k)) throw new MalformedPolicyError(`Unknown field ${k} in the policy.`)
  // As IAM and S3: a policy without a Version is of the first one, 2008-10-17 (no policy variables).
  const version = d.Version === undefined ? '2008-10-17' : d.Version
  if (version !== '2012-10-17' && version !== '2008-10-17') throw new MalformedPolicyError('Version must be "2012-10-17".')
  if (d.Id !== undefined && typeof d.Id !== 'string') throw new MalformedPolicyError('Id must be a string.')
  const list = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? undefined : [d.Statement]
  if (list === undefined || list.length === 0) throw new MalformedPolicyError('Statement is missing or empty.')
  const sids = new Set<string>()
  const statements = list.map((raw, i): Statement => {
    let where = `Statement ${i + 1}`
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MalformedPolicyError(`${where} must be an object.`)
    const s = raw as Record<string, unknown>
    if (s.Sid !== undefined) {
      if (typeof s.Sid !== 'string' || !/^[A-Za-z0-9]*$/.test(s.Sid)) throw new MalformedPolicyError(`${where}: Sid must be letters and digits.`)
      if (s.Sid !== '' && sids.has(s.Sid)) throw new MalformedPolicyError(`${where}: Sid ${s.Sid} is used twice.`)
      sids.add(s.Sid)
      where = `Statement ${i + 1} (${s.Sid})`
    }
    for (const k of Object.keys(s)) if (!STATEMENT_KEYS.has(k)) throw new MalformedPolicyError(`${where}: unknown field ${k}.`)
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new MalformedPolicyError(`${where}: Effect must be "Allow" or "Deny".`)
    const one = (a: string, b: string): void => {
      if ((s[a] === undefined) === (s[b] === undefined)) throw new MalformedPolicyError(`${where}: exactly one of ${a} and ${b} is needed.`)
    }
    one('Action', 'NotAction')
    one('Resource', 'NotResource')
    const out: Statement = { effect: s.Effect }
    if (typeof s.Sid === 'string' && s.Sid !== '') out.sid = s.Sid
    if (s.Action !== undefined) out.actions = strings(s.Action, `${where}: Action`)
    if (s.NotAction !== undefined) out.notActions = strings(s.NotAction, `${where}: NotAction`)
    for (const a of [...out.actions ?? [], ...out.notActions ?? []]) {
      if (a !== '*' && !/^(s3|iam|sts|admin):[A-Za-z*?]+$/i.test(a)) throw new MalformedPolicyError(`${where}: ${a} is not an action s3mesh knows (s3:GetObject, s3:*, iam:CreateUser, sts:AssumeRole, admin:*, ...).`)
    }
    if (s.Resource !== undefined) out.resources = strings(s.Resource, `${where}: Resource`)
    if (s.NotResource !== undefined) out.notResources = strings(s.NotResource, `${where}: NotResource`)
    for (const r of [...out.resources ?? [], ...out.notResources ?? []]) {
      if (r !== '*' && !r.startsWith('arn:aws:s3:::') && !r.startsWith('arn:aws:iam::') && !r.startsWith('arn:aws:sts::')) throw new MalformedPolicyError(`${where}: ${r} is not a resource ARN s3mesh knows (arn:aws:s3:::bucket/key, arn:aws:iam::ACCOUNT:user/NAME).`)
    }
    if (kind === 'bucket') {
      one('Principal', 'NotPrincipal')
      if (s.Principal !== undefined) out.principal = principal(s.Principal, `${where}: Principal`)
      if (s.NotPrincipal !== undefined) out.notPrincipal = principal(s.NotPrincipal, `${where}: NotPrincipal`)
    } else if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
      throw new MalformedPolicyError(`${where}: a ${kind} policy has no Principal (it applies to whoever it is attached to).`)
    }
    if (s.Condition !== undefined) {
      const { block, unreadable } = condition(s.Condition, `${where}: Condition`, kept)
      out.condition = block
      if (unreadable) out.unreadableCondition = true
    }
    return out
  })
  return { version, ...(typeof d.Id === 'string' ? { id: d.Id } : {}), statements: version === '2008-10-17' ? statements.map(withoutVariables) : statements }
}

/**
 * The text to keep of a policy document parsePolicy takes (MalformedPolicyError
 * otherwise): one without a Version gets the one it is read as, 2008-10-17,
 * written in, because releases before this one refuse a document without it
 * and, as members or edge workers sharing the mesh's access records, would
 * drop it whole (its Denies too). Its size is checked again with it.
 */
export function policyToKeep (text: string, kind: PolicyKind): string {
  parsePolicy(text, kind)
  if ((JSON.parse(text) as Record<string, unknown>).Version !== undefined) return text
  const versioned = `{"Version":"2008-10-17",${text.slice(text.indexOf('{') + 1)}`
  if (versioned.length > POLICY_SIZE_LIMITS[kind]) {
    throw new MalformedPolicyError(`The policy has no Version: it is kept with "Version":"2008-10-17" written in, which makes it ${versioned.length} characters, and ${kind === 'identity' ? 'an' : 'a'} ${kind} policy may have at most ${POLICY_SIZE_LIMITS[kind]}. Give it a Version ("2012-10-17"), or shorten it.`)
  }
  return versioned
}

/**
 * A statement of a 2008-10-17 policy, which has no policy variables (IAM's
 * rule): each `$` in its resources and condition values made literal (`${$}`),
 * so `${aws:username}` there is matched as the text it is.
 */
function withoutVariables (s: Statement): Statement {
  const literal = (t: string): string => t.replaceAll('$', '${$}')
  return {
    ...s,
    ...(s.resources === undefined ? {} : { resources: s.resources.map(literal) }),
    ...(s.notResources === undefined ? {} : { notResources: s.notResources.map(literal) }),
    ...(s.condition === undefined ? {} : { condition: Object.fromEntries(Object.entries(s.condition).map(([op, keys]) => [op, Object.fromEntries(Object.entries(keys).map(([k, values]) => [k, values.map(literal)]))])) }),
  }
}
