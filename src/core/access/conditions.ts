/**
 * Condition operators as IAM evaluates them. A block holds when every
 * operator holds; an operator holds when every key holds; a key holds when
 * the request's value matches any of the policy's values (for a negated
 * operator: none). A key absent from the request fails a positive operator
 * and passes a negated one, unless the operator ends in IfExists (then it
 * passes). ForAnyValue: and ForAllValues: compare sets of request values.
 */
import type { ConditionBlock } from './policy.js'
import { arnMatches, lookup, patternMatches, substitute, type ContextValues } from './policy-match.js'

type Compare = (request: string, policy: string, context: ContextValues) => boolean

const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals', StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase', StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals', DateNotEquals: 'DateEquals', NotIpAddress: 'IpAddress', ArnNotEquals: 'ArnEquals', ArnNotLike: 'ArnLike',
}

const date = (s: string): number => /^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s)
const num = (s: string): number => s.trim() === '' ? NaN : Number(s)
const lit = (policy: string, context: ContextValues): string | undefined => substitute(policy, context)?.replaceAll('\u0000', '')

const COMPARE: Record<string, Compare> = {
  StringEquals: (r, p, c) => r === lit(p, c),
  StringEqualsIgnoreCase: (r, p, c) => r.toLowerCase() === lit(p, c)?.toLowerCase(),
  StringLike: (r, p, c) => patternMatches(p, r, c),
  NumericEquals: (r, p) => num(r) === num(p),
  NumericLessThan: (r, p) => num(r) < num(p),
  NumericLessThanEquals: (r, p) => num(r) <= num(p),
  NumericGreaterThan: (r, p) => num(r) > num(p),
  NumericGreaterThanEquals: (r, p) => num(r) >= num(p),
  DateEquals: (r, p) => date(r) === date(p),
  DateLessThan: (r, p) => date(r) < date(p),
  DateLessThanEquals: (r, p) => date(r) <= date(p),
  DateGreaterThan: (r, p) => date(r) > date(p),
  DateGreaterThanEquals: (r, p) => date(r) >= date(p),
  Bool: (r, p) => r.toLowerCase() === p.toLowerCase(),
  IpAddress: (r, p) => inCidr(r, p),
  ArnEquals: (r, p, c) => arnMatches(p, r, c),
  ArnLike: (r, p, c) => arnMatches(p, r, c),
}

/**
 * Keys of a request's context that a key written in another case could mean
 * several of (tags Team and team, which S3 keeps apart, named
 * s3:ExistingObjectTag/TEAM), by that key in lower case: the values of each.
 */
export type AmbiguousKeys = ReadonlyMap<string, ReadonlyArray<string | string[]>>

/**
 * Whether every operator of a statement's Condition holds for the request.
 * A key that is `ambiguous` holds, for a Deny, if it holds with any of its
 * values, and for an Allow only if with all of them.
 */
export function conditionsHold (block: ConditionBlock | undefined, context: ContextValues, ambiguous?: AmbiguousKeys, effect: 'Allow' | 'Deny' = 'Allow'): boolean {
  if (block === undefined) return true
  for (const [operator, keys] of Object.entries(block)) {
    for (const [key, values] of Object.entries(keys)) {
      const value = lookup(context, key)
      const several = value === undefined ? ambiguous?.get(key.toLowerCase()) : undefined
      const ok = several === undefined
        ? holds(operator, value, values, context)
        : effect === 'Deny' ? several.some(v => holds(operator, v, values, context)) : several.every(v => holds(operator, v, values, context))
      if (!ok) return false
    }
  }
  return true
}

function holds (operator: string, request: string | string[] | undefined, values: string[], context: ContextValues): boolean {
  const set = /^For(AnyValue|AllValues):/.exec(operator)?.[1] === 'AllValues' ? 'All' : /^ForAnyValue:/.test(operator) ? 'Any' : undefined
  let base = operator.replace(/^For(AnyValue|AllValues):/, '')
  const ifExists = base.endsWith('IfExists')
  if (ifExists) base = base.slice(0, -'IfExists'.length)
  const present = request !== undefined && !(Array.isArray(request) && request.length === 0)
  if (base === 'Null') return values.some(v => (v.toLowerCase() === 'true') === !present)
  const negated = NEGATED[base] !== undefined
  const compare = COMPARE[NEGATED[base] ?? base]!
  const one = (r: string): boolean => values.some(v => compare(r, v, context))
  const list = request === undefined ? [] : Array.isArray(request) ? request : [request]
  if (set === 'All') {
    // Every request value matches (vacuously true with none); negated: no request value matches.
    return negated ? list.every(r => !one(r)) : list.every(one)
  }
  // ForAnyValue on a key the request lacks (or an empty set): no value matches, negated or not (IAM's rule).
  if (!present) return ifExists || (negated && set !== 'Any')
  if (set === 'Any') return negated ? list.some(r => !one(r)) : list.some(one)
  const matched = list.some(one)
  return negated ? !matched : matched
}

/**
 * Why a policy's value cannot be compared by its operator (`base`, without
 * prefix or IfExists), or undefined when it can: IAM refuses such a policy
 * rather than let a negated operator hold for every request (a NotIpAddress
 * on a block that is no block would allow everyone).
 */
export function valueProblem (base: string, value: string): string | undefined {
  const of = NEGATED[base] ?? base
  if (of === 'IpAddress' && cidrOf(value) === undefined) return `${JSON.stringify(value)} is not an IP address or a CIDR block`
  if (of.startsWith('Numeric') && Number.isNaN(num(value))) return `${JSON.stringify(value)} is not a number`
  if (of.startsWith('Date') && Number.isNaN(date(value))) return `${JSON.stringify(value)} is not a date (ISO 8601, or seconds since 1970)`
  if ((of === 'Bool' || of === 'Null') && !/^(true|false)$/i.test(value)) return `${JSON.stringify(value)} is not true or false`
  return undefined
}

/** Whether an IPv4 or IPv6 address is inside a CIDR block (or equals an address). */
export function inCidr (address: string, cidr: string): boolean {
  const a = ipBits(address)
  const n = cidrOf(cidr)
  if (a === undefined || n === undefined || a.width !== n.width) return false
  const shift = BigInt(n.width - n.bits)
  return (a.value >> shift) === (n.value >> shift)
}

/** A CIDR block (an address alone: a block of one) as its network's bits and prefix length; undefined when it is none. */
function cidrOf (text: string): { value: bigint, width: number, bits: number } | undefined {
  const [net, bitsText, ...more] = text.split('/')
  const n = ipBits(net ?? '')
  // Digits only: Number('') and Number('0x0') are 0, a prefix that would match every address.
  if (n === undefined || more.length > 0 || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText))) return undefined
  const bits = bitsText === undefined ? n.width : Number(bitsText)
  return bits > n.width ? undefined : { ...n, bits }
}

function ipBits (ip: string): { value: bigint, width: number } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number)
    if (parts.some(p => p > 255)) return undefined
    return { value: parts.reduce((v, p) => (v << 8n) | BigInt(p), 0n), width: 32 }
  }
  if (!ip.includes(':')) return undefined
  const mapped = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip)
  let text = ip
  if (mapped !== undefined && mapped !== null) {
    const v4 = ipBits(mapped[2]!)
    if (v4 === undefined) return undefined
    text = `${mapped[1]!}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : []
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  const groups = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail]
  if (groups.length !== 8 || !groups.every(g => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined
  return { value: groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n), width: 128 }
}
