/**
 * SealedFrames' guard on a stream's first frame: a peer that has not yet
 * shown it speaks the protocol (holds the cluster key) cannot make the
 * receiver buffer more than the protocol's largest first message, nor keep a
 * partial one buffered by trickling bytes. Over a real libp2p stream pair.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { encode } from 'cborg'
import * as varint from 'uint8-varint'
import { FirstFrameBudgets, HeldBytes } from '../../src/core/wire/held-bytes.js'
import { MAX_FRAME_BYTES, PeerIdleError, PLAIN_FRAMES, SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { DroppedMessageError } from '../../src/core/wire/strict-cbor.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Writes raw bytes on `stream`, waiting for room as a sender must. */
async function sendRaw (stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
}

/** A length prefix and a CBOR control message `pad` bytes long or so. */
function controlFrame (pad: number): { prefix: Uint8Array, body: Uint8Array } {
  const body = encode({ op: 'get', pad: 'x'.repeat(pad) })
  return { prefix: varint.encode(body.byteLength), body }
}

test('a first frame longer than the cap is refused from its length, before its bytes are taken', async () => {
  const [outbound, inbound] = await streamPair()
  const frames = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 5000, firstFrameMaxBytes: 4096 })
  const receiving = frames.receive()
  // Only the length of a 3 MiB frame and a few of its bytes: the refusal cannot have waited for the rest.
  await sendRaw(outbound, varint.encode(3 * 1024 * 1024))
  await sendRaw(outbound, new Uint8Array(100))
  await assert.rejects(receiving, (err: unknown) => err instanceof DroppedMessageError && err.reason === 'too-large' && /first frame exceeds 4096/.test(err.message))
  frames.abort(new Error('test over'))
})

test('without a cap the same first frame is taken (MAX_FRAME_BYTES), and after a first frame the cap no longer applies', async () => {
  const big = 3 * 1024 * 1024
  assert.ok(big <= MAX_FRAME_BYTES)
  const [outbound, inbound] = await streamPair()
  const plain = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 5000 })
  const sender = new SealedFrames(outbound, PLAIN_FRAMES, { idleTimeoutMs: 5000 })
  const got = plain.receiveData()
  await sender.sendData(new Uint8Array(big))
  assert.equal((await got)!.reduce((n, p) => n + p.byteLength, 0), big)

  const [out2, in2] = await streamPair()
  const capped = new SealedFrames(in2, PLAIN_FRAMES, { idleTimeoutMs: 5000, firstFrameMaxBytes: 4096 })
  const sender2 = new SealedFrames(out2, PLAIN_FRAMES, { idleTimeoutMs: 5000 })
  await sender2.send({ op: 'get', bucket: 'b' })
  assert.deepEqual(await capped.receive(), { op: 'get', bucket: 'b' })
  const second = capped.receiveData()
  await sender2.sendData(new Uint8Array(big))
  assert.equal((await second)!.reduce((n, p) => n + p.byteLength, 0), big, 'the second frame may be as large as any frame')
  for (const f of [plain, sender, capped, sender2]) f.abort(new Error('test over'))
})

test('a trickled first frame must be whole within one idle period of its first byte', async () => {
  const idle = 400
  // The same trickle (a byte every 100 ms, 1.5 s in all) to a stream without the guard and to one with it.
  const trickle = async (stream: Stream, prefix: Uint8Array, body: Uint8Array): Promise<void> => {
    await sendRaw(stream, prefix)
    for (const b of body) {
      await sleep(100)
      if (stream.status !== 'open') return
      await sendRaw(stream, new Uint8Array([b])).catch(() => {})
    }
  }
  const { prefix, body } = controlFrame(20)
  const slow = body.byteLength * 100
  assert.ok(slow > 3 * idle, `the trickle (${slow} ms) outlasts the idle timeout several times over`)

  const [out1, in1] = await streamPair()
  const unguarded = new SealedFrames(in1, PLAIN_FRAMES, { idleTimeoutMs: idle })
  const trickled = trickle(out1, prefix, body)
  assert.deepEqual(await unguarded.receive(), { op: 'get', pad: 'x'.repeat(20) }, 'without the guard each byte restarts the idle timer')
  await trickled
  unguarded.abort(new Error('test over'))

  const [out2, in2] = await streamPair()
  const guarded = new SealedFrames(in2, PLAIN_FRAMES, { idleTimeoutMs: idle, firstFrameMaxBytes: 4096 })
  const started = Date.now()
  const receiving = guarded.receive()
  void trickle(out2, prefix, body)
  await assert.rejects(receiving, (err: unknown) => err instanceof PeerIdleError)
  const took = Date.now() - started
  assert.ok(took < slow / 2, `the stream was reset after ${took} ms, not when the trickle ended (${slow} ms)`)
  out2.abort(new Error('test over'))
})

test('the first frame\'s idle period starts at its first byte, not when the stream opened', async () => {
  const [outbound, inbound] = await streamPair()
  const frames = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 2000, firstFrameMaxBytes: 4096 })
  const receiving = frames.receive()
  // Opened ahead of use (a spare stream), then its request in two parts: 2.4 s after the open, 1.2 s after the first byte.
  await sleep(1200)
  const { prefix, body } = controlFrame(1000)
  await sendRaw(outbound, prefix)
  await sendRaw(outbound, body.subarray(0, 500))
  await sleep(1200)
  await sendRaw(outbound, body.subarray(500))
  assert.equal(((await receiving).pad as string).length, 1000)
  frames.abort(new Error('test over'))
})

test('first frames not yet whole share one budget across streams, for the bytes received: one that does not fit is refused, one that arrives whole is taken whatever the budget, and what a frame held is given back once it is taken or its stream ends', async () => {
  const budget = new HeldBytes(100 * 1024)
  const open: SealedFrames[] = []
  const framesOn = (inbound: Stream): SealedFrames => {
    const frames = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 5000, firstFrames: budget })
    open.push(frames)
    return frames
  }
  /** A stream whose peer declares a 1 MiB first frame and sends `sent` bytes of it. */
  const stranger = async (sent: number): Promise<{ out: Stream, receiving: Promise<Record<string, unknown>> }> => {
    const [out, inbound] = await streamPair()
    const receiving = framesOn(inbound).receive()
    receiving.catch(() => {})
    await sendRaw(out, varint.encode(1024 * 1024))
    await sendRaw(out, new Uint8Array(sent))
    // Until the reader has taken in what was sent (held, or refused), within 2 s.
    const before = budget.inUse
    const refused = budget.refused
    for (let waited = 0; waited < 2000 && budget.inUse < before + sent && budget.refused === refused; waited += 10) await sleep(10)
    return { out, receiving }
  }
  try {
    const prefix = varint.encodingLength(1024 * 1024)
    const a = await stranger(60 * 1024)
    assert.equal(budget.inUse, prefix + 60 * 1024, 'what was received of the first frame is held, not its declared length')
    const b = await stranger(50 * 1024)
    await assert.rejects(b.receiving, (err: unknown) => err instanceof DroppedMessageError && err.reason === 'too-large' && /do not fit/.test(err.message))
    assert.equal(budget.refused, 1)
    assert.equal(budget.inUse, prefix + 60 * 1024, 'the refused frame holds nothing')

    // An honest first frame arriving whole is taken although the budget cannot hold it.
    const whole = controlFrame(70 * 1024)
    const [out, inbound] = await streamPair()
    const frames = framesOn(inbound)
    const receiving = frames.receive()
    await sendRaw(out, new Uint8Array([...whole.prefix, ...whole.body]))
    assert.equal(((await receiving).pad as string).length, 70 * 1024)
    assert.equal(budget.refused, 1, 'not refused')
    // After it, frames are not held at all: one in two pieces, larger than what the budget has left, is taken.
    const later = frames.receiveData()
    await sendRaw(out, varint.encode(200 * 1024))
    await sendRaw(out, new Uint8Array(150 * 1024))
    await sleep(20)
    await sendRaw(out, new Uint8Array(50 * 1024))
    assert.equal((await later)!.reduce((n, p) => n + p.byteLength, 0), 200 * 1024)
    assert.equal(budget.inUse, prefix + 60 * 1024, 'a later frame is not held against the budget')
    assert.equal(budget.refused, 1)

    // The first stream ending mid-frame gives its share back.
    a.out.abort(new Error('gone'))
    await assert.rejects(a.receiving)
    assert.equal(budget.inUse, 0)
  } finally {
    for (const f of open) f.abort(new Error('test over'))
  }
})

test('a first frame held against the budget must be whole within one idle period of its first byte, without a cap of its own', async () => {
  const [out, inbound] = await streamPair()
  const budget = new HeldBytes(1024 * 1024)
  const frames = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 400, firstFrames: budget })
  const started = Date.now()
  const receiving = frames.receive()
  await sendRaw(out, varint.encode(1000))
  const trickle = setInterval(() => { if (out.status === 'open') void sendRaw(out, new Uint8Array(1)).catch(() => {}) }, 100)
  try {
    await assert.rejects(receiving, (err: unknown) => err instanceof PeerIdleError)
    const took = Date.now() - started
    assert.ok(took < 3000, `reset after ${took} ms, although a byte came every 100 ms`)
    assert.equal(budget.inUse, 0)
  } finally {
    clearInterval(trickle)
    out.abort(new Error('test over'))
  }
})

test('a member\'s first frames are held against a budget of their own: strangers that spent theirs do not keep a member\'s frame out', async () => {
  const budgets = new FirstFrameBudgets(new HeldBytes(100 * 1024), new HeldBytes(100 * 1024), new HeldBytes(100 * 1024))
  const forget = budgets.knowPeers({ isMember: peer => peer === 'member', isTab: peer => peer === 'tab' })
  const open: SealedFrames[] = []
  /** A stream from `peer` whose first frame, of `size` bytes, comes in two pieces with a pause between. */
  const firstFrame = async (peer: string, size: number): Promise<Record<string, unknown>> => {
    const [out, inbound] = await streamPair()
    const frames = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 5000, firstFrames: budgets.for(peer) })
    open.push(frames)
    const receiving = frames.receive()
    receiving.catch(() => {})
    const { prefix, body } = controlFrame(size)
    await sendRaw(out, prefix)
    await sendRaw(out, body.subarray(0, size / 2))
    await sleep(50)
    await sendRaw(out, body.subarray(size / 2))
    return await receiving
  }
  try {
    // A stranger holds all but a little of the others' budget: 90 KiB sent of a 1 MiB frame.
    const [out, inbound] = await streamPair()
    const held = new SealedFrames(inbound, PLAIN_FRAMES, { idleTimeoutMs: 5000, firstFrames: budgets.for('stranger') })
    open.push(held)
    held.receive().catch(() => {})
    await sendRaw(out, varint.encode(1024 * 1024))
    await sendRaw(out, new Uint8Array(90 * 1024))
    for (let waited = 0; waited < 2000 && budgets.others.inUse < 90 * 1024; waited += 10) await sleep(10)
    assert.ok(budgets.others.inUse >= 90 * 1024, 'the precondition: the others\' budget is nearly spent')
    await assert.rejects(firstFrame('another-stranger', 40 * 1024), (err: unknown) => err instanceof DroppedMessageError && err.reason === 'too-large', 'a second stranger\'s frame does not fit')
    assert.equal(((await firstFrame('member', 40 * 1024)).pad as string).length, 40 * 1024, 'a member\'s is taken')
    assert.equal(budgets.members.refused, 0)
    assert.equal(budgets.for('tab'), budgets.tabs, 'an admitted tab draws on the tabs\' budget, not the members\'')
    forget()
    assert.equal(budgets.for('member'), budgets.others, 'a membership forgotten (its node stopped) names no member')
  } finally {
    for (const f of open) f.abort(new Error('test over'))
  }
})
