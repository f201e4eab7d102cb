/** NodeMeta: what a member tells the others about itself, decoded strictly, fitted to the meta limit. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode } from 'cborg'
import { decodeNodeMeta, encodeNodeMeta, FEATURES, fitNodeMeta, type NodeMeta } from '../../src/core/membership/node-meta.js'

const base: NodeMeta = { role: 'durable', addrs: ['/ip4/127.0.0.1/tcp/9100'], version: '0.1.0' }

describe('NodeMeta', () => {
  it('carries when the member started and its free disk space', () => {
    const meta = { ...base, started: 1_764_000_000_000, free: 123_456_789_012 }
    assert.deepEqual(decodeNodeMeta(encodeNodeMeta(meta)), meta)
  })

  it('refuses negative or non-numeric uptime and free space, and keeps meta without them', () => {
    assert.equal(decodeNodeMeta(encode({ ...base, free: -1 })), undefined)
    assert.equal(decodeNodeMeta(encode({ ...base, started: 'yesterday' })), undefined)
    assert.deepEqual(decodeNodeMeta(encodeNodeMeta(base)), base)
  })

  it('fits the limit by dropping addresses, never the facts', () => {
    const meta = { ...base, addrs: Array.from({ length: 12 }, (_, i) => `/ip4/10.0.0.${i}/tcp/9100/p2p/12D3KooWExampleExampleExampleExampleExample${i}`), started: 1, free: 2 }
    const fitted = decodeNodeMeta(fitNodeMeta(meta, 256))!
    assert.ok(fitted.addrs.length < 12 && fitted.addrs.length > 0, `${fitted.addrs.length} addresses kept`)
    assert.deepEqual(fitted.addrs, meta.addrs.slice(0, fitted.addrs.length), 'the first ones, in order')
    assert.equal(fitted.started, 1)
    assert.equal(fitted.free, 2)
  })

  it('carries the features a release announces, and refuses malformed ones', () => {
    const meta = { ...base, caps: FEATURES.versions }
    assert.deepEqual(decodeNodeMeta(encodeNodeMeta(meta)), meta)
    assert.equal(decodeNodeMeta(encode({ ...base, caps: 'versions' })), undefined)
    assert.equal(decodeNodeMeta(encode({ ...base, caps: -1 })), undefined)
    assert.equal(encodeNodeMeta(meta).byteLength - encodeNodeMeta(base).byteLength, 6, 'six bytes of the 512: the addresses keep the rest')
  })
})
