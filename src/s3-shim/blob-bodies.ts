/**
 * Requests whose body is a Blob the caller holds (a tab's page node, given a
 * request by its service worker, bridge.ts). A Request does not tell what
 * its body was made of, so the one who makes it says so here, and a PUT's
 * payload passes the Blob on to the store (PutOptions.blob).
 */
const blobs = new WeakMap<Request, Blob>()

/** A Request with `blob` as its body, known as such to blobBodyOf. */
export function requestWithBlob (url: string, init: Omit<RequestInit, 'body'>, blob: Blob): Request {
  const request = new Request(url, { ...init, body: blob })
  blobs.set(request, blob)
  return request
}

/** The Blob `request` was made with by requestWithBlob, if it was. */
export function blobBodyOf (request: Request): Blob | undefined {
  return blobs.get(request)
}

/**
 * `request` with other headers: its method, body, signal (and, in a
 * Worker, what the platform adds) kept, and its Blob (requestWithBlob) still
 * known as its body. Where the platform will not copy it with new headers,
 * it is made again from its parts.
 */
export function requestWithHeaders (request: Request, headers: Headers): Request {
  let copy: Request
  try {
    copy = new Request(request, { headers })
  } catch {
    const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers, signal: request.signal }
    if (request.body !== null) Object.assign(init, { body: request.body, duplex: 'half' })
    copy = new Request(request.url, init)
  }
  const blob = blobs.get(request)
  if (blob !== undefined) blobs.set(copy, blob)
  return copy
}
