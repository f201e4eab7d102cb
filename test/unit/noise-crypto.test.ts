/** Noise's ciphers with each session's key kept as a KeyObject (noise-crypto.ts): the same bytes as @libp2p/noise's own, the same checks. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../src/node/noise-crypto.js'
import { echoed } from '../helpers/echo.js'

const bytes = (x: Uint8Array | Uint8ArrayList): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())
const nonce = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }
/** A message as the socket may hand it over: in pieces. */
const inPieces = (b: Uint8Array): Uint8ArrayList => new Uint8ArrayList(b.subarray(0, 7), b.subarray(7, b.byteLength - 5), b.subarray(b.byteLength - 5))

describe('noiseCrypto', () => {
  it('seals and opens exactly as @libp2p/noise\'s default crypto does, both ways, whole or in pieces, small and large', () => {
    const k = randomBytes(32)
    const ad = randomBytes(32)
    for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
      const plain = randomBytes(size)
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(size), ad, k))
      const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce(size), ad, k))
      assert.deepEqual(ours, theirs, `${size} bytes sealed alike`)
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(new Uint8ArrayList(plain.subarray(0, size >> 1), plain.subarray(size >> 1)), nonce(size), ad, k)), theirs, `${size} bytes in pieces sealed alike`)
      for (const sealed of [ours, inPieces(ours)]) {
        assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(size), ad, k, new Uint8Array(size))), plain, `${size} bytes opened`)
      }
    }
  })

  it('refuses a message whose bytes, tag, length, nonce, associated data or key are not the ones it was sealed with', () => {
    const k = randomBytes(32)
    const ad = randomBytes(32)
    const plain = randomBytes(8192)
    const sealed = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(1), ad, k))
    const flipped = (at: number): Buffer => { const c = Buffer.from(sealed); c[at]! ^= 1; return c }
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(flipped(10), nonce(1), ad, k), 'a changed byte')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(inPieces(flipped(sealed.byteLength - 1)), nonce(1), ad, k), 'a changed tag, in pieces')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed.subarray(0, -1), nonce(1), ad, k), 'a byte short')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(inPieces(sealed.subarray(0, 4000)), nonce(1), ad, k), 'cut short, in pieces')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed.subarray(0, 10), nonce(1), ad, k), 'shorter than a tag')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(2), ad, k), 'another nonce')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(1), randomBytes(32), k), 'other associated data')
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(1), ad, randomBytes(32)), 'another key')
    assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(1), ad, k)), plain)
  })

  it('a key array whose bytes change is used with its new bytes, not the key kept for it', () => {
    const k = randomBytes(32)
    const plain = randomBytes(4096)
    const ad = new Uint8Array(0)
    const first = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(0), ad, k))
    k.set(randomBytes(32))
    const second = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(0), ad, k))
    assert.notDeepEqual(second, first)
    assert.deepEqual(second, bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce(0), ad, Buffer.from(k))))
    assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(second, nonce(0), ad, k)), plain)
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(first, nonce(0), ad, k))
  })

  it('a connection between a node on it and a node on @libp2p/noise\'s own crypto carries bytes both ways (handshake, large and small messages)', async () => {
    const node = async (crypto?: typeof noiseCrypto): Promise<Libp2p> => await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise(crypto === undefined ? {} : { crypto })], streamMuxers: [yamux()],
    })
    const ours = await node(noiseCrypto)
    const stock = await node()
    try {
      // An echo: whatever comes in goes back out (a small send, then the rest).
      const sent = Buffer.concat([randomBytes(200 * 1024), Buffer.from('the end')])
      assert.deepEqual(await echoed(ours, stock, [sent.subarray(0, 100), sent.subarray(100)]), sent)
    } finally {
      await ours.stop()
      await stock.stop()
    }
  })
})
