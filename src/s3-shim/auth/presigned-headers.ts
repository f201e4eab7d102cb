import { S3Error } from '../../core/errors.js'
import { requestWithHeaders } from '../blob-bodies.js'
import { parseQuery } from '../router.js'

/** A SigV4 presigned URL's own parameters: they authenticate it, and are no request headers. */
const AUTH_PARAMETERS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token', 'x-amz-content-sha256'])

/**
 * Checksum values in a presigned URL are not checked, as AWS documents for
 * presigned uploads: the JavaScript SDK signs the CRC32 of an empty body
 * into every presigned PUT it makes (it has no body when it signs), which
 * would refuse every upload through it. (The algorithm a CreateMultipartUpload
 * names, x-amz-checksum-algorithm, is kept.)
 */
const IGNORED = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/

/**
 * The request as S3 reads a SigV4 presigned URL, for one whose signature
 * verified (it signs the whole query): the `x-amz-*` headers the signer
 * moved into the query (the SDKs move every one: `x-amz-meta-*`, `x-amz-acl`,
 * `x-amz-tagging`, `x-amz-copy-source`, the object lock's) are headers
 * again, so that the operation sees them. Without this, a presigned
 * CopyObject was a PutObject of nothing, and a presigned PUT's metadata,
 * tags, ACL and retention were dropped. A header the request carries itself
 * is kept (the signature check refused it unless it was signed). Values are
 * given as a header's bytes would be, UTF-8 one byte a character, so that
 * metadata reads the same either way. Any other request is returned as it is.
 */
export function withPresignedHeaders (request: Request, url: URL): Request {
  if (request.headers.has('authorization')) return request
  const query = parseQuery(url.search)
  if (!query.has('X-Amz-Algorithm')) return request
  let headers: Headers | undefined
  for (const [name, value] of query) {
    const lower = name.toLowerCase()
    if (!lower.startsWith('x-amz-') || AUTH_PARAMETERS.has(lower) || IGNORED.test(lower) || request.headers.has(lower)) continue
    headers ??= new Headers(request.headers)
    try {
      headers.set(lower, String.fromCharCode(...new TextEncoder().encode(value)))
    } catch {
      throw new S3Error('InvalidArgument', `The presigned URL's ${name} is not a valid header (a line break, or a character a header may not hold).`, { detail: { ArgumentName: name } })
    }
  }
  return headers === undefined ? request : requestWithHeaders(request, headers)
}
