import type { Context } from '../context.js'
import { globalContext } from './request-actions.js'

/**
 * Whether the caller may do `action` on the request's key. A probe of what an
 * answer may show (a version's lock, a write's catalog entry), not a request
 * decided: a "no" throws nothing and is not counted as a denial.
 */
export function mayOnKey (ctx: Context, action: string): boolean {
  const { access, principal, client } = ctx.auth
  return access === undefined || access.decide(principal, { action, resource: `arn:aws:s3:::${ctx.bucket}/${ctx.key}`, context: globalContext(ctx.headers, client) }) === 'allow'
}
