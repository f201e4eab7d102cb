import { createCipheriv, createDecipheriv, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'

const CHACHA = 'chacha20-poly1305'
const TAG_BYTES = 16
/** Below this, @libp2p/noise's own choice (WebAssembly) is faster than a node:crypto cipher object. */
const NATIVE_FROM_BYTES = 1200

interface Kept { raw: Uint8Array, key: KeyObject }
/** A session's key object, by the key array Noise passes with every message (it keeps one per direction). */
const keys = new WeakMap<Uint8Array, Kept>()

/**
 * The key as a KeyObject, made once per Noise session and direction. On
 * Node 22 and 24, createCipheriv with raw key bytes costs about 15 µs more
 * per call than with a KeyObject (it checks the bytes against every key
 * type first), and @libp2p/noise's node crypto makes a cipher per message:
 * about a twentieth of a member's CPU in profiles of it forwarding 1 MiB GETs.
 */
function keyObject (k: Uint8Array): KeyObject {
  const kept = keys.get(k)
  // Noise never changes a key in place; the check (32 bytes) keeps a cached key from ever outliving its bytes.
  if (kept !== undefined && kept.raw.byteLength === k.byteLength && timingSafeEqual(kept.raw, k)) return kept.key
  const key = createSecretKey(k)
  keys.set(k, { raw: Uint8Array.from(k), key })
  return key
}

/**
 * @libp2p/noise's default crypto for Node (node:crypto's ChaCha20-Poly1305,
 * X25519 and SHA-256; WebAssembly for small messages), with each session's
 * key kept as a KeyObject. Same wire format, same checks. (The default
 * switches to WebAssembly under Electron, which has no ChaCha20-Poly1305 in
 * node:crypto; a member runs on Node.)
 */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv(CHACHA, keyObject(k), nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    if (plaintext instanceof Uint8Array) {
      const sealed = cipher.update(plaintext)
      const final = cipher.final()
      return Buffer.concat([sealed, final, cipher.getAuthTag()])
    }
    // Pieces stay pieces (a yamux frame's header and body): no copy into one buffer.
    const output = new Uint8ArrayList()
    for (const buf of plaintext) output.append(cipher.update(buf))
    const final = cipher.final()
    if (final.byteLength > 0) output.append(final)
    output.append(cipher.getAuthTag())
    return output
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const end = ciphertext.byteLength - TAG_BYTES
    const decipher = createDecipheriv(CHACHA, keyObject(k), nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: end })
    decipher.setAuthTag(ciphertext.subarray(end))
    if (ciphertext instanceof Uint8Array) {
      const output = decipher.update(ciphertext.subarray(0, end))
      const final = decipher.final()
      return final.byteLength > 0 ? Buffer.concat([output, final]) : output
    }
    const output = new Uint8ArrayList()
    for (const buf of ciphertext.sublist(0, end)) output.append(decipher.update(buf))
    const final = decipher.final()
    if (final.byteLength > 0) output.append(final)
    return output
  },
}
