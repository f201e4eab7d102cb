import { S3Error } from '../core/errors.js'
import { renderXml } from './xml.js'
import type { ObjectInfo } from '../core/object-store.js'

/** Renders an error as S3 does: XML body (none for HEAD), status from the code table. */
export function errorResponse (err: S3Error, requestId: string, method: string): Response {
  const headers = new Headers(err.headers)
  headers.set('x-amz-request-id', requestId)
  if (err.status === 304) return new Response(null, { status: err.status, headers })
  // A HEAD's answer has no body to name the error in: a header does (as MinIO's x-minio-error-code), for the edge and a
  // tab's gateway, which pass the node's errors on (NoSuchVersion, AccessDenied: the status alone does not tell them).
  if (method === 'HEAD') {
    headers.set('x-s3mesh-error-code', err.code)
    return new Response(null, { status: err.status, headers })
  }
  headers.set('content-type', 'application/xml')
  const body = renderXml('Error', {
    Code: err.code,
    Message: err.message,
    ...(err.detail ?? {}),
    Resource: err.resource,
    RequestId: requestId,
  }, false)
  return new Response(body, { status: err.status, headers })
}

/** Unexpected errors become InternalError; S3Errors pass through. */
export function asS3Error (err: unknown): S3Error {
  if (err instanceof S3Error) return err
  return new S3Error('InternalError', undefined, { cause: err })
}

/** S3's HTTP date (IMF-fixdate), as in Last-Modified. */
export function httpDate (d: Date): string {
  return d.toUTCString()
}

/** S3's XML timestamp: ISO 8601 with milliseconds. */
export function isoDate (d: Date): string {
  return d.toISOString()
}

/**
 * When an object, part or bucket was made, as S3's XML gives it: to
 * the second (`.000Z`), as Last-Modified on GET and HEAD is, so a listing's
 * time equals the object's (sync tools compare them).
 */
export function madeAt (d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString()
}

export function quoteEtag (etag: string): string {
  return `"${etag}"`
}

/** Asked with the value 1 on a PUT, answered with the written version's catalog entry on a mesh (ObjectInfo.entry). */
export const ENTRY_HEADER = 'x-s3mesh-entry'

/**
 * On a mesh, after a write: how many members hold it, and where its time
 * went (Server-Timing, which browsers' developer tools and
 * bench/mesh-put-latency read).
 */
export function meshWriteHeaders (info: Pick<ObjectInfo, 'replicas' | 'phases'>): Record<string, string> {
  const p = info.phases
  return {
    ...(info.replicas === undefined ? {} : { 'x-s3mesh-replicas': String(info.replicas) }),
    ...(p === undefined ? {} : { 'server-timing': `write;dur=${p.write.toFixed(2)};desc="local copy", copies;dur=${p.copies.toFixed(2)};desc="until the write quorum", announce;dur=${p.announce.toFixed(2)}` }),
  }
}
