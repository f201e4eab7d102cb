import type { CorsRule } from '../../core/object-store.js'

/** What a CORS rule's origins and headers may hold (they go into headers or are matched against them): printable US-ASCII, no spaces. */
export const CORS_VALUE = /^[\x21-\x7e]+$/

/** S3 CORS patterns allow at most one `*` wildcard. */
function wildcardMatch (pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern
  const v = caseInsensitive ? value.toLowerCase() : value
  const star = p.indexOf('*')
  if (star < 0) return p === v
  const head = p.slice(0, star)
  const tail = p.slice(star + 1)
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail)
}

/**
 * The first rule that allows this origin, method and (for a preflight) every
 * requested header, as S3 evaluates CORSRule elements in order.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html
 */
export function matchCorsRule (rules: readonly CorsRule[] | undefined, origin: string, method: string, requestHeaders: readonly string[] = []): CorsRule | undefined {
  for (const rule of rules ?? []) {
    if (!rule.allowedOrigins.some(o => wildcardMatch(o, origin))) continue
    if (!rule.allowedMethods.includes(method.toUpperCase())) continue
    if (!requestHeaders.every(h => rule.allowedHeaders.some(a => wildcardMatch(a, h, true)))) continue
    return rule
  }
  return undefined
}

/** Response headers for a request that a rule allows. */
export function corsHeaders (rule: CorsRule, origin: string, preflight?: { requestHeaders: string[] }): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*')
  const h: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  }
  if (!anyOrigin) h['access-control-allow-credentials'] = 'true'
  // Rules are checked when set (bucket-cors.ts); one set before that was checked, and holding what no header may, is left out.
  const exposed = rule.exposeHeaders.filter(x => CORS_VALUE.test(x))
  if (exposed.length > 0) h['access-control-expose-headers'] = exposed.join(', ')
  if (preflight !== undefined) {
    if (preflight.requestHeaders.length > 0) h['access-control-allow-headers'] = preflight.requestHeaders.join(', ')
    if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds)
  }
  return h
}
