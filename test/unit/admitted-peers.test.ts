import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AdmittedPeers } from '../../src/core/mesh/admitted-peers.js'

describe('AdmittedPeers (whom a relay serves)', () => {
  it('knows a peer until its admission expires, and a renewal extends it', () => {
    const peers = new AdmittedPeers()
    peers.admit('tab', 2_000, 1_000)
    assert.ok(peers.has('tab', 1_999))
    assert.ok(!peers.has('stranger', 1_000))
    peers.admit('tab', 3_000, 1_500)
    assert.ok(peers.has('tab', 2_500), 'the renewal counts')
    assert.ok(!peers.has('tab', 3_000), 'expired')
    assert.equal(peers.size, 0, 'and forgotten')
    peers.admit('late', 900, 1_000)
    assert.ok(!peers.has('late', 800) && peers.size === 0, 'an admission already expired is not kept')
  })

  it('keeps at most its cap: the expired go first, then those heard of longest ago', () => {
    const peers = new AdmittedPeers(3)
    peers.admit('a', 10_000, 0)
    peers.admit('b', 100, 0)
    peers.admit('c', 10_000, 0)
    peers.admit('d', 10_000, 200)
    assert.deepEqual(['a', 'b', 'c', 'd'].filter(p => peers.has(p, 200)), ['a', 'c', 'd'], 'b had expired')
    // a renewed: c is now the one heard of longest ago.
    peers.admit('a', 20_000, 300)
    peers.admit('e', 10_000, 300)
    assert.deepEqual(['a', 'c', 'd', 'e'].filter(p => peers.has(p, 300)), ['a', 'd', 'e'])
    assert.equal(peers.size, 3)
  })
})
