/**
 * The service worker's list of page nodes: the open pages are asked once
 * after a restart, a closed page is forgotten, and a page whose node failed
 * a request while it stayed open is asked again after a wait that doubles
 * while it does not answer (before, it was dropped until the browser
 * restarted the worker, and the origin's requests went past its node).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ASIDE_FIRST_MS, ASIDE_MAX_MS, PageNodes } from '../../src/browser/page-nodes.js'

interface Fake { id: string, open: boolean, answers: boolean, pinged: number, hold?: Promise<void> }

function world (...pages: Fake[]): { nodes: PageNodes<Fake>, clock: { ms: number }, forgotten: string[] } {
  const clock = { ms: 1_000_000 }
  const forgotten: string[] = []
  const nodes = new PageNodes<Fake>({
    all: async () => pages.filter(p => p.open),
    get: async id => pages.find(p => p.id === id && p.open),
    ping: async p => { p.pinged++; await p.hold; return p.answers },
    forget: id => { forgotten.push(id) },
    now: () => clock.ms,
  })
  return { nodes, clock, forgotten }
}
const page = (id: string, answers = true): Fake => ({ id, open: true, answers, pinged: 0 })

describe('the service worker\'s page nodes', () => {
  it('asks the open pages once, and answers with the first whose node is up', async () => {
    const [a, b, c] = [page('a', false), page('b'), page('c')]
    const { nodes } = world(a, b, c)
    assert.equal((await nodes.pick())?.id, 'b')
    assert.equal((await nodes.pick())?.id, 'b')
    assert.deepEqual([a.pinged, b.pinged, c.pinged], [1, 1, 1], 'pinged once, at the first pick')
  })

  it('forgets a page that closed, and answers with the next', async () => {
    const [a, b] = [page('a'), page('b')]
    const { nodes, forgotten } = world(a, b)
    assert.equal((await nodes.pick())?.id, 'a')
    a.open = false
    assert.equal((await nodes.pick())?.id, 'b')
    assert.deepEqual(forgotten, ['a'])
    b.open = false
    assert.equal(await nodes.pick(), undefined)
  })

  it('a page still open whose node failed a request is asked again after a wait, and used again once it answers', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    assert.equal((await nodes.pick())?.id, 'a')
    nodes.failed('a', false)
    a.answers = false
    assert.equal(await nodes.pick(), undefined, 'set aside: not used within its wait')
    assert.equal(a.pinged, 1, 'and not asked within it')
    clock.ms += ASIDE_FIRST_MS
    assert.equal(await nodes.pick(), undefined, 'asked once its wait is over, and it does not answer')
    assert.equal(a.pinged, 2)
    clock.ms += ASIDE_FIRST_MS
    assert.equal(await nodes.pick(), undefined, 'the wait doubled: not asked yet')
    assert.equal(a.pinged, 2)
    clock.ms += ASIDE_FIRST_MS
    a.answers = true
    assert.equal((await nodes.pick())?.id, 'a', 'asked after twice the wait, it answers and is used again')
    assert.equal(a.pinged, 3)
    assert.equal((await nodes.pick())?.id, 'a')
    assert.equal(a.pinged, 3, 'up again: not asked at every pick')
  })

  it('the wait doubles up to its longest', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    await nodes.pick()
    nodes.failed('a', false)
    a.answers = false
    const waits: number[] = []
    let last = clock.ms
    for (let pings = a.pinged, t = 0; waits.length < 8 && t < 2_000; t++) {
      clock.ms += 500
      await nodes.pick()
      if (a.pinged > pings) { pings = a.pinged; waits.push(clock.ms - last); last = clock.ms }
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128].map(n => Math.min(n * ASIDE_FIRST_MS, ASIDE_MAX_MS)))
  })

  it('while another page is up, that one answers and the page set aside waits', async () => {
    const [a, b] = [page('a'), page('b')]
    const { nodes, clock } = world(a, b)
    assert.equal((await nodes.pick())?.id, 'a')
    nodes.failed('a', false)
    clock.ms += ASIDE_FIRST_MS
    assert.equal((await nodes.pick())?.id, 'b')
    assert.equal(a.pinged, 1, 'not asked while b answers')
    b.open = false
    assert.equal((await nodes.pick())?.id, 'a', 'asked once b is gone')
  })

  it('a page whose node stopped during a request is forgotten until it says its node is up', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    await nodes.pick()
    nodes.failed('a', true)
    clock.ms += ASIDE_MAX_MS
    assert.equal(await nodes.pick(), undefined)
    assert.equal(a.pinged, 1, 'never asked again')
    nodes.started('a')
    assert.equal((await nodes.pick())?.id, 'a')
    nodes.stopped('a')
    assert.equal(await nodes.pick(), undefined)
  })

  it('a page set aside that says its node is up is used at once; one that closed meanwhile is forgotten', async () => {
    const [a, b] = [page('a'), page('b')]
    const { nodes, clock, forgotten } = world(a, b)
    await nodes.pick()
    nodes.failed('a', false)
    nodes.failed('b', false)
    nodes.started('a')
    assert.equal((await nodes.pick())?.id, 'a')
    nodes.stopped('a')
    b.open = false
    clock.ms += ASIDE_FIRST_MS
    assert.equal(await nodes.pick(), undefined)
    assert.deepEqual(forgotten, ['b'])
    assert.equal(b.pinged, 1, 'a closed page is not pinged')
  })

  it('several requests failing together set the page aside once: it is still asked again', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    await nodes.pick()
    nodes.failed('a', false)
    nodes.failed('a', false)
    nodes.failed('a', false)
    clock.ms += ASIDE_FIRST_MS
    assert.equal((await nodes.pick())?.id, 'a', 'asked after the first wait, not forgotten by the later failures')
  })

  it('a page back from aside that fails again before it answers a request waits twice as long; one that answered starts again at the shortest wait', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    await nodes.pick()
    nodes.failed('a', false)
    clock.ms += ASIDE_FIRST_MS
    assert.equal((await nodes.pick())?.id, 'a', 'it answers the ping')
    nodes.failed('a', false)
    clock.ms += ASIDE_FIRST_MS
    assert.equal(await nodes.pick(), undefined, 'its requests still fail: not asked after the shortest wait')
    assert.equal(a.pinged, 2)
    clock.ms += ASIDE_FIRST_MS
    assert.equal((await nodes.pick())?.id, 'a', 'asked after twice the wait')
    nodes.answered('a')
    nodes.failed('a', false)
    clock.ms += ASIDE_FIRST_MS
    assert.equal((await nodes.pick())?.id, 'a', 'it answered a request in between: the shortest wait again')
  })

  it('picks at once while a page set aside is being asked share its one ping, and a ping unanswered doubles the wait once', async () => {
    const a = page('a')
    const { nodes, clock } = world(a)
    await nodes.pick()
    nodes.failed('a', false)
    a.answers = false
    let release!: () => void
    a.hold = new Promise(resolve => { release = resolve })
    clock.ms += ASIDE_FIRST_MS
    const picks = [nodes.pick(), nodes.pick(), nodes.pick(), nodes.pick()]
    await new Promise(resolve => setImmediate(resolve))
    release()
    assert.deepEqual(await Promise.all(picks), [undefined, undefined, undefined, undefined])
    assert.equal(a.pinged, 2, 'one ping for the four picks (and the first sweep\'s)')
    a.hold = undefined
    a.answers = true
    clock.ms += 2 * ASIDE_FIRST_MS - 1
    assert.equal(await nodes.pick(), undefined, 'the wait doubled once, not four times: not yet')
    clock.ms += 1
    assert.equal((await nodes.pick())?.id, 'a')
  })

  it('picks at once after the worker started all wait for its first look at the open pages', async () => {
    const a = page('a')
    let release!: () => void
    a.hold = new Promise(resolve => { release = resolve })
    const { nodes } = world(a)
    const picks = [nodes.pick(), nodes.pick(), nodes.pick()]
    await new Promise(resolve => setImmediate(resolve))
    release()
    assert.deepEqual((await Promise.all(picks)).map(p => p?.id), ['a', 'a', 'a'])
    assert.equal(a.pinged, 1)
  })
})
