import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode } from 'cborg'
import fc from 'fast-check'
import { decodeMessage, encodeMessage } from '../../src/core/membership/codec.js'
import { DroppedMessageError, type DropReason } from '../../src/core/wire/strict-cbor.js'
import { Keyring, webCryptoAead } from '../../src/core/wire/keyring.js'
import { nodeAead } from '../../src/node/node-aead.js'
import type { Message } from '../../src/core/membership/messages.js'

const reasonOf = (f: () => unknown): DropReason | 'accepted' => {
  try { f(); return 'accepted' } catch (err) { assert.ok(err instanceof DroppedMessageError, String(err)); return err.reason }
}

describe('membership wire format', () => {
  const samples: Message[] = [
    { type: 'ping', seq: 1, target: 'peerA' },
    { type: 'ack', seq: 2 },
    { type: 'nack', seq: 3 },
    { type: 'ping-req', seq: 4, target: 'peerB' },
    { type: 'gossip', updates: [{ type: 'alive', node: 'a', incarnation: 3, meta: new Uint8Array([1, 2]) }, { type: 'suspect', node: 'b', incarnation: 1, from: 'c' }, { type: 'dead', node: 'd', incarnation: 9, from: 'd' }] },
    { type: 'push-pull', states: [{ node: 'a', incarnation: 0, state: 'failed', meta: new Uint8Array() }], join: true, reply: false },
  ]
  for (const m of samples) {
    it(`round-trips ${m.type}`, () => { assert.deepEqual(decodeMessage(encodeMessage(m)), m) })
  }

  it('drops hostile and broken input with a reason, never throwing anything else', () => {
    const wrap = (m: unknown, v = 1): Uint8Array => encode({ v, m })
    assert.equal(reasonOf(() => decodeMessage(new Uint8Array([0xff, 0x00, 0x13]))), 'not-cbor')
    assert.equal(reasonOf(() => decodeMessage(wrap({ type: 'ack', seq: 1 }, 2))), 'bad-version')
    assert.equal(reasonOf(() => decodeMessage(new Uint8Array(9 * 1024 * 1024))), 'too-large')
    const malformed: unknown[] = [
      { type: 'ack', seq: -1 }, { type: 'ack', seq: 1.5 }, { type: 'ack', seq: '1' }, { type: 'ping', seq: 1, target: '' },
      { type: 'ping', seq: 1, target: 'x'.repeat(200) }, { type: 'teleport' }, [1, 2], 'string',
      { type: 'gossip', updates: [{ type: 'alive', node: 'a', incarnation: 1, meta: new Uint8Array(513) }] },
      { type: 'gossip', updates: new Array(65).fill({ type: 'dead', node: 'a', incarnation: 1, from: 'b' }) },
      { type: 'gossip', updates: [{ type: 'alive', node: 'a', incarnation: 1 }] },
      { type: 'gossip', updates: [{ type: 'alive', node: 'a', incarnation: 2 ** 32, meta: new Uint8Array() }] },
      { type: 'push-pull', states: [{ node: 'a', incarnation: 1, state: 'zombie', meta: new Uint8Array() }], join: false, reply: false },
      { type: 'push-pull', states: [], join: 'yes', reply: false },
    ]
    for (const m of malformed) assert.equal(reasonOf(() => decodeMessage(wrap(m))), 'malformed', JSON.stringify(m))
  })

  it('never crashes on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), data => {
      const r = reasonOf(() => decodeMessage(data))
      return r === 'accepted' || typeof r === 'string'
    }), { numRuns: 3000 })
  })
})

for (const [name, aead] of [['WebCrypto', webCryptoAead], ['node:crypto', nodeAead]] as const) {
describe(`cluster keyring (${name})`, () => {
  const msg = encodeMessage({ type: 'ping', seq: 7, target: 'p' })
  it('seals and opens; a peer without the key or of another cluster cannot open', async () => {
    const k1 = Keyring.generateKey()
    const ring = await Keyring.create([k1], 'prod', aead)
    const sealed = await ring.seal(msg)
    assert.deepEqual(await ring.open(sealed), msg)
    const stranger = await Keyring.create([Keyring.generateKey()], 'prod', aead)
    await assert.rejects(stranger.open(sealed), (e: unknown) => e instanceof DroppedMessageError && e.reason === 'wrong-key')
    const otherCluster = await Keyring.create([k1], 'staging', aead)
    await assert.rejects(otherCluster.open(sealed), (e: unknown) => e instanceof DroppedMessageError && e.reason === 'wrong-key')
    await assert.rejects(ring.open(msg), (e: unknown) => e instanceof DroppedMessageError && e.reason === 'not-sealed')
    const tampered = sealed.slice()
    tampered[tampered.length - 1]! ^= 1
    await assert.rejects(ring.open(tampered), (e: unknown) => e instanceof DroppedMessageError && e.reason === 'wrong-key')
  })

  it('rotates keys without downtime: add, use, remove', async () => {
    const oldKey = Keyring.generateKey()
    const newKey = Keyring.generateKey()
    const a = await Keyring.create([oldKey], 'c', aead)
    const b = await Keyring.create([oldKey], 'c', aead)
    await a.add(newKey)
    await b.add(newKey)
    a.use(newKey)
    assert.deepEqual(await b.open(await a.seal(msg)), msg, 'b still seals with the old key, a with the new: both open')
    assert.deepEqual(await a.open(await b.seal(msg)), msg)
    b.use(newKey)
    a.remove(oldKey)
    b.remove(oldKey)
    assert.deepEqual(await a.open(await b.seal(msg)), msg)
    assert.throws(() => a.remove(newKey), /primary key cannot be removed/)
    await assert.rejects(Keyring.create([new Uint8Array(20)], 'c', aead), /16, 24 or 32 bytes/)
  })
})
}

describe('cluster keyring across platforms', () => {
  it('WebCrypto and node:crypto seal the same format: each opens what the other sealed, for every key size', async () => {
    for (const bytes of [16, 24, 32]) {
      const key = crypto.getRandomValues(new Uint8Array(bytes))
      const web = await Keyring.create([key], 'c', webCryptoAead)
      const node = await Keyring.create([key], 'c', nodeAead)
      const msg = crypto.getRandomValues(new Uint8Array(1000))
      assert.deepEqual(await node.open(await web.seal(msg)), msg)
      assert.deepEqual(await web.open(await node.seal(msg)), msg)
      assert.deepEqual(await node.open(await node.seal(new Uint8Array(0))), new Uint8Array(0))
    }
  })
})
