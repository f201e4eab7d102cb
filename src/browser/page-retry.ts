/** Headers that make a write conditional. */
const CONDITIONS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']

/** A request the service worker gave to a page node, and how that ended. */
export interface FailedAsk {
  method: string
  url: string
  headers: Headers
  /** The request has a body the worker does not hold (a POST's XML: the page took it; a PUT's is read into a Blob first). */
  bodyGone: boolean
  /** The page closed (no longer a client of the worker). Otherwise it is still open: it timed out, failed, or its node stopped. */
  pageClosed: boolean
}

/**
 * Whether a request a page node failed is asked again (of another page
 * node, or answered without one) rather than answered with an error. A read
 * always is. A write only when its page closed, as an S3 client retries a
 * request cut off (the closed page may have made it already: the same write
 * again): not when the page is still open (a timeout, an error, its node
 * stopping: it may yet be made there, and would then be made twice), not a
 * conditional one (its condition would refuse a write that was made), not a
 * CreateMultipartUpload (a second upload would be left behind), and not one
 * whose body the page took.
 */
export function askAgain (f: FailedAsk): boolean {
  if (f.method === 'GET' || f.method === 'HEAD') return true
  if (!f.pageClosed || f.bodyGone) return false
  if (CONDITIONS.some(h => f.headers.has(h))) return false
  return !new URL(f.url).searchParams.has('uploads')
}
