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
  const out = text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
    if (name === '*' || name === '?' || name === '$') return `\u0000${name}`
    const v = context[name.split(',')[0]!.trim()] ?? defaultOf(name)
    if (typeof v !== 'string') { missing = true; return '' }
    // A value is matched literally: its own * and ? are not wildcards.
    return v.replace(/[*?]/g, c => `\u0000${c}`)
  })
  return missing ? undefined : out
}

/** `${key, 'default'}`: the default when the key is absent. */
function defaultOf (name: string): string | undefined {
  return /^[^,]+,\s*'([^']*)'\s*$/.exec(name)?.[1]
}

/** Matches `value` against a pattern with `*` (any run) and `?` (one character); escaped (\u0000-prefixed) ones are literal. */
export function wildcardMatch (pattern: string, value: string, ignoreCase = false): boolean {
  return compiled(pattern, ignoreCase).test(value)
}

/** Patterns compiled once: a request is checked against every statement of every policy in force. */
const patterns = new Map<string, RegExp>()

function compiled (pattern: string, ignoreCase: boolean): RegExp {
  const id = (ignoreCase ? 'i' : 's') + pattern
  let re = patterns.get(id)
  if (re === undefined) {
    if (patterns.size >= 4096) patterns.clear()
    re = toRegExp(pattern, ignoreCase)
    patterns.set(id, re)
  }
  return re
}

function toRegExp (pattern: string, ignoreCase: boolean): RegExp {
  let re = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\u0000') { re += escapeRe(pattern[++i] ?? ''); continue }
    re += c === '*' ? '.*' : c === '?' ? '.' : escapeRe(c)
  }
  return new RegExp(`${re}$`, ignoreCase ? 'is' : 's')
}

function escapeRe (c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** A pattern from a policy (variables substituted) against a value; a pattern with an absent variable matches nothing. */
export function patternMatches (pattern: string, value: string, context: ContextValues, ignoreCase = false): boolean {
  const p = substitute(pattern, context)
  return p !== undefined && wildcardMatch(p, value, ignoreCase)
}

/** S3 actions match case-insensitively (s3:getobject is s3:GetObject). */
export function actionMatches (pattern: string, action: string): boolean {
  return wildcardMatch(pattern, action, true)
}
