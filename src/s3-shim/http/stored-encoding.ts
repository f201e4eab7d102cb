/**
 * An object's Content-Encoding (gzip, for a site's precompressed files)
 * describes its bytes as stored, and S3 answers those bytes as they are. But
 * fetch (undici, Deno, workerd, browsers) decodes an answer whose
 * Content-Encoding it knows: a reader that passes objects on (an edge worker
 * reading from a node) would get other bytes than the object's, of another
 * length. Such a reader asks with RAW_BODY; a GET or HEAD then answers the
 * object's Content-Encoding as STORED_ENCODING, which no fetch acts on, and
 * the reader reads it back from there.
 */
export const RAW_BODY = 'x-s3mesh-raw-body'
export const STORED_ENCODING = 'x-s3mesh-content-encoding'

/**
 * A GET's or HEAD's answer, to a reader that asked for the bytes as stored.
 * Only a request signed in its headers asks (a node's edge worker): shared
 * caches keep no answer to one by default, and the answer varies on the
 * header, so that no cache hands it to a browser, which would show gzip as
 * text.
 */
export function answerStoredEncoding (request: Request, response: Response): void {
  const encoding = response.headers.get('content-encoding')
  if (encoding === null) return
  // Both answers say they vary on it: a cache that kept a browser's must not hand it to a raw reader either.
  response.headers.append('vary', RAW_BODY)
  if (request.headers.get(RAW_BODY) !== '1' || !request.headers.has('authorization')) return
  response.headers.delete('content-encoding')
  response.headers.set(STORED_ENCODING, encoding)
}

/** A node's answer's headers as the object's: its Content-Encoding where the node moved it. */
export function storedEncodingHeaders (headers: Headers): Headers {
  const encoding = headers.get(STORED_ENCODING)
  if (encoding === null) return headers
  const out = new Headers(headers)
  out.set('content-encoding', encoding)
  return out
}
