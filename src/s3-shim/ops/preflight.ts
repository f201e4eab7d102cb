import { S3Error } from '../../core/errors.js'
import type { ObjectStore } from '../../core/object-store.js'
import { corsHeaders, matchCorsRule } from '../http/cors.js'

/**
 * Answers a CORS preflight (OPTIONS) from the bucket's CORS rules. Browsers
 * never sign preflights, so this runs before authentication.
 */
export async function preflight (request: Request, bucket: string, store: ObjectStore): Promise<Response> {
  const origin = request.headers.get('origin')
  const method = request.headers.get('access-control-request-method')
  if (origin === null || method === null) {
    throw new S3Error('InvalidRequest', 'Insufficient information. Origin and Access-Control-Request-Method headers are needed.')
  }
  if (bucket === '') throw new S3Error('AccessForbidden', 'CORSResponse: this CORS request is not allowed on the service endpoint.')
  const info = await store.headBucket(bucket, { signal: request.signal })
  const requestHeaders = (request.headers.get('access-control-request-headers') ?? '')
    .split(',').map(h => h.trim().toLowerCase()).filter(h => h !== '')
  const rule = matchCorsRule(info.cors, origin, method, requestHeaders)
  if (rule === undefined) {
    throw new S3Error('AccessForbidden', 'CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.')
  }
  return new Response(null, { status: 200, headers: corsHeaders(rule, origin, { requestHeaders }) })
}
