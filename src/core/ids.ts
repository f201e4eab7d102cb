import { toHex } from './hashes.js'

/** A random hex identifier (upload ids, request ids, temp names) from the Web Crypto RNG. */
export function randomId (bytes = 16): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)))
}

/**
 * Request ids: unique per process and cheap (WebCrypto randomness per request
 * showed up in profiles). A random 8-hex-digit prefix per process, then a counter.
 */
export function requestIdSource (): () => string {
  const prefix = randomId(4).toUpperCase()
  let n = 0
  return () => prefix + (n++).toString(16).toUpperCase().padStart(8, '0')
}

/**
 * Names unique on a machine and cheap, for what each write makes (its temp
 * file, its commit's intent): WebCrypto randomness for each showed up in a
 * PUT's profile. A random 16-hex-digit prefix per source, so that names left
 * by an earlier run (a crash) never collide, then a counter.
 */
export function uniqueIdSource (): () => string {
  const prefix = randomId(8)
  let n = 0
  return () => prefix + (n++).toString(16).padStart(8, '0')
}
