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

describe('AdmittedPeers.waitFor (a relay request a moment before the admission)', () => {
  it('answers at once for a peer known, when the admission comes within the wait, and no after it', async () => {
    const peers = new AdmittedPeers()
    peers.admit('tab', Date.now() + 60_000)
    assert.equal(await peers.waitFor('tab', 1000), true)
    const waiting = peers.waitFor('late', 1000)
    setTimeout(() => { peers.admit('late', Date.now() + 60_000) }, 50)
    assert.equal(await waiting, true, 'heard within the wait')
    const started = Date.now()
    assert.equal(await peers.waitFor('stranger', 200), false)
    assert.ok(Date.now() - started >= 190, 'after the wait')
  })

  it('keeps the later of two expiries, and lets at most its cap wait at once', async () => {
    const peers = new AdmittedPeers(16, 2)
    peers.admit('tab', 5_000, 0)
    peers.admit('tab', 3_000, 100)
    assert.ok(peers.has('tab', 4_000), 'an older admission still in use does not shorten the newer one')
    const a = peers.waitFor('x', 300)
    const b = peers.waitFor('y', 300)
    const started = Date.now()
    assert.equal(await peers.waitFor('z', 300), false)
    assert.ok(Date.now() - started < 100, 'a third waits for nothing: answered at once')
    assert.deepEqual([await a, await b], [false, false])
    // Those two done, the cap is free again: a new wait hears of its admission.
    const c = peers.waitFor('w', 1000)
    peers.admit('w', Date.now() + 60_000)
    assert.equal(await c, true)
  })
})
