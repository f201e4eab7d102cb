/**
 * Matching in policies: `*` and `?` wildcards, and policy variables
 * (`${aws:username}`, the escapes `${*}`, `${?}`, `${$}`) substituted from
 * the request's context before matching.
 */

/** The request's condition keys (aws:username, s3:prefix, ...): one value, several, or absent. */
export type ContextValues = Record<string, string | string[] | undefined>

/**
 * Substitutes `${key}` with the context's value. A variable whose key is
 * absent (or has several values) makes the text match nothing, as AWS has it:
 * undefined is returned.
 */
export function substitute (text: string, context: ContextValues): string | undefined {
  let missing = false
  const out = text.replace(VARIABLE, (_m, name: string) => {
    if (name === '*' || name === '?' || name === '$') return `\u0000${name}`
    const v = lookup(context, keyOf(name)) ?? defaultOf(name)
    if (typeof v !== 'string') { missing = true; return '' }
    // A value is matched literally: its own * and ? are not wildcards.
    return v.replace(/[*?]/g, c => `\u0000${c}`)
  })
  return missing ? undefined : out
}

/** `${key}` or `${key, 'default'}` in a policy's text. */
const VARIABLE = /\$\{([^}]+)\}/g

/** A variable's key, without its default. */
const keyOf = (name: string): string => name.split(',')[0]!.trim()

/** The condition keys `text` names as policy variables (the escapes ${*}, ${?} and ${$} aside). */
export function variableKeys (text: string): string[] {
  return [...text.matchAll(VARIABLE)].map(m => m[1]!).filter(name => name !== '*' && name !== '?' && name !== '$').map(keyOf)
}

/** A condition key's value: keys are case-insensitive in IAM (aws:SourceIp is aws:sourceip). */
export function lookup (context: ContextValues, key: string): string | string[] | undefined {
  // Own keys only: a condition on "constructor" is no key of the request's.
  const lower = key.toLowerCase()
  return (Object.hasOwn(context, key) ? context[key] : undefined) ?? (Object.hasOwn(context, lower) ? context[lower] : undefined)
}

/** `${key, 'default'}`: the default when the key is absent. */
function defaultOf (name: string): string | undefined {
  return /^[^,]+,\s*'([^']*)'\s*$/.exec(name)?.[1]
}

/**
 * Matches `value` against a pattern with `*` (any run) and `?` (one
 * character); escaped (\u0000-prefixed) ones are literal. A greedy scan that
 * backs up only to the last `*`: O(pattern x value) at worst, so a pattern
 * with hundreds of stars (a hostile policy) cannot stall the node, as a
 * backtracking regular expression would.
 */
export function wildcardMatch (pattern: string, value: string, ignoreCase = false): boolean {
  const tokens = compiled(pattern, ignoreCase)
  const v = ignoreCase ? value.toLowerCase() : value
  let t = 0
  let i = 0
  let star = -1
  let mark = 0
  while (i < v.length) {
    const tok = tokens[t]
    if (tok !== undefined && tok !== STAR && (tok === ANY || tok === v[i])) {
      t++
      i++
    } else if (tok === STAR) {
      star = t++
      mark = i
    } else if (star >= 0) {
      t = star + 1
      i = ++mark
    } else {
      return false
    }
  }
  while (tokens[t] === STAR) t++
  return t === tokens.length
}

/** A pattern as tokens: a literal character, ANY (`?`) or STAR (`*`). */
const STAR = Symbol('*')
const ANY = Symbol('?')
type Token = string | typeof STAR | typeof ANY

/** Patterns tokenised once: a request is checked against every statement of every policy in force. */
const patterns = new Map<string, Token[]>()

function compiled (pattern: string, ignoreCase: boolean): Token[] {
  const id = (ignoreCase ? 'i' : 's') + pattern
  let tokens = patterns.get(id)
  if (tokens === undefined) {
    if (patterns.size >= 4096) patterns.clear()
    tokens = []
    const p = ignoreCase ? pattern.toLowerCase() : pattern
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!
      if (c === '\u0000') { tokens.push(p[++i] ?? ''); continue }
      // Runs of stars are one star.
      if (c === '*') { if (tokens.at(-1) !== STAR) tokens.push(STAR); continue }
      tokens.push(c === '?' ? ANY : c)
    }
    patterns.set(id, tokens)
  }
  return tokens
}

/** A pattern from a policy (variables substituted) against a value; a pattern with an absent variable matches nothing. */
export function patternMatches (pattern: string, value: string, context: ContextValues, ignoreCase = false): boolean {
  const p = substitute(pattern, context)
  return p !== undefined && wildcardMatch(p, value, ignoreCase)
}

/** An ARN's six components (arn, partition, service, region, account, resource: the last may hold colons of its own). */
function arnParts (arn: string): string[] | undefined {
  const parts: string[] = []
  let rest = arn
  for (let i = 0; i < 5; i++) {
    const at = rest.indexOf(':')
    if (at < 0) return undefined
    parts.push(rest.slice(0, at))
    rest = rest.slice(at + 1)
  }
  return [...parts, rest]
}

/**
 * ArnEquals and ArnLike (IAM treats them alike): each of the six components
 * matched on its own, case-sensitively, `*` and `?` within it (a `*` does not
 * reach into the next component). A pattern or value that is not a whole ARN
 * (`*`, `arn:aws:iam::*`) is matched whole, as before: matching nothing
 * would turn a Deny with it into none.
 */
export function arnMatches (pattern: string, value: string, context: ContextValues): boolean {
  const p = substitute(pattern, context)
  if (p === undefined) return false
  const want = arnParts(p)
  const got = arnParts(value)
  if (want === undefined || got === undefined) return wildcardMatch(p, value)
  return want.every((part, i) => wildcardMatch(part, got[i]!))
}

/** S3 actions match case-insensitively (s3:getobject is s3:GetObject). */
export function actionMatches (pattern: string, action: string): boolean {
  return wildcardMatch(pattern, action, true)
}
