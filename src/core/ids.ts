import { toHex } from './hashes.js'

/** A random hex identifier (upload ids, request ids, temp names) from the Web Crypto RNG. */
export function randomId (bytes = 16): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)))
}
