import { toHex } from './hashes.js'

/** A random hex identifier (upload ids, request ids, temp names) from the Web Crypto RNG. */
export function randomId (bytes = 16): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)))
}

/**
 * Names unique on a machine and cheap (WebCrypto randomness for each showed
 * up in profiles: per request, per write): a random prefix of `prefixBytes`
 * per source, so that names made by another run (one before a crash) never
 * collide, then a counter. A write's temp file and its commit's intent are
 * named so (16 hex digits of prefix).
 */
export function uniqueIdSource (prefixBytes = 8): () => string {
  const prefix = randomId(prefixBytes)
  let n = 0
  return () => prefix + (n++).toString(16).padStart(8, '0')
}

/** Request ids: a unique name (an 8-hex-digit prefix per process, then a counter) in S3's upper case. */
export function requestIdSource (): () => string {
  const next = uniqueIdSource(4)
  return () => next().toUpperCase()
}
