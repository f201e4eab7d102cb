import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { toHex, webHashes, type Hashes } from '../../src/core/hashes.js'
import { ChunkTree, joinHashes, leafHash, rootOfRange, TREE_CHUNK_BYTES, TreeHasher, treeRoot } from '../../src/core/mesh/chunk-tree.js'
import { RangeCheck, rangeAnswer, rangePieces, type RangeRequest } from '../../src/core/mesh/range-transfer.js'

const C = TREE_CHUNK_BYTES
const sha = (...parts: Uint8Array[]): Uint8Array => { const h = createHash('sha256'); for (const p of parts) h.update(p); return new Uint8Array(h.digest()) }

/** RFC 6962's Merkle tree hash, written out as the RFC states it (a second implementation to check against). */
function mth (leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return sha(new Uint8Array([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

function leavesOf (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < Math.max(1, bytes.byteLength); i += C) out.push(sha(new Uint8Array([0]), bytes.subarray(i, i + C)))
  return out
}

function hashed (bytes: Uint8Array, pieceSizes: number[]): Uint8Array[] {
  const t = new TreeHasher(webHashes)
  let at = 0
  for (let i = 0; at < bytes.byteLength; i++) {
    const n = pieceSizes[i % pieceSizes.length]!
    t.update(bytes.subarray(at, at + n))
    at += n
  }
  return t.finish()
}

describe('chunk tree', () => {
  it('hashes a body into leaves of a chunk each however it is cut, and its root is RFC 6962\'s', () => {
    const bytes = new Uint8Array(randomBytes(3 * C + 12345))
    const expected = leavesOf(bytes)
    assert.equal(expected.length, 4)
    for (const cuts of [[bytes.byteLength], [7, 65536, 1000003], [C], [C - 1, 2]]) {
      assert.deepEqual(hashed(bytes, cuts).map(toHex), expected.map(toHex), `cut into ${cuts.join(', ')}`)
    }
    assert.equal(toHex(treeRoot(webHashes, expected)), toHex(mth(expected)))
    assert.deepEqual(new TreeHasher(webHashes).finish().map(toHex), [toHex(sha(new Uint8Array([0])))], 'an empty body has one leaf, of no bytes')
  })

  it('every range of every tree of 1 to 13 leaves proves its root, and a changed hash or a proof of the wrong length does not', () => {
    for (let n = 1; n <= 13; n++) {
      const leaves = Array.from({ length: n }, (_, i) => sha(new Uint8Array([0, i])))
      const root = toHex(mth(leaves))
      const tree = new ChunkTree(webHashes, leaves)
      assert.equal(toHex(tree.root), root, `n=${n}`)
      for (let first = 0; first < n; first++) {
        for (let last = first; last < n; last++) {
          const proof = tree.proof(first, last)
          const range = leaves.slice(first, last + 1)
          assert.equal(toHex(rootOfRange(webHashes, n, first, range, proof)!), root, `n=${n} ${first}..${last}`)
          // At most two hashes per level beside the range.
          assert.ok(proof.length <= 2 * Math.ceil(Math.log2(n) + 1), `n=${n} ${first}..${last}: ${proof.length} hashes`)
          if (proof.length > 0) {
            const bad = proof.map(h => new Uint8Array(h))
            bad[0]![0]! ^= 1
            assert.notEqual(toHex(rootOfRange(webHashes, n, first, range, bad)!), root)
            assert.equal(rootOfRange(webHashes, n, first, range, proof.slice(1)), undefined, 'a hash short')
          }
          assert.equal(rootOfRange(webHashes, n, first, range, [...proof, leaves[0]!]), undefined, 'a hash too many')
          const changed = range.map(h => new Uint8Array(h))
          changed[changed.length - 1]![5]! ^= 1
          assert.notEqual(toHex(rootOfRange(webHashes, n, first, changed, proof)!), root, 'a changed leaf')
        }
      }
    }
  })

  it('hashes each inner node once, when made, so a holder\'s proofs cost no hashing however big the object', () => {
    let made = 0
    const counting: Hashes = { ...webHashes, create: algorithm => { made++; return webHashes.create(algorithm) } }
    const leaves = Array.from({ length: 1000 }, (_, i) => sha(new Uint8Array([0, i >> 8, i & 255])))
    const tree = new ChunkTree(counting, leaves)
    assert.equal(made, 999, 'n - 1 inner nodes')
    assert.equal(toHex(tree.root), toHex(mth(leaves)))
    for (const [first, last] of [[0, 0], [500, 504], [998, 999], [0, 999], [511, 512]] as const) {
      const proof = tree.proof(first, last)
      assert.equal(toHex(rootOfRange(webHashes, 1000, first, leaves.slice(first, last + 1), proof)!), toHex(mth(leaves)), `${first}..${last}`)
    }
    assert.equal(made, 999, 'the proofs made no hash')
  })
})

describe('range check', () => {
  const bytes = new Uint8Array(randomBytes(5 * C + 777))
  const leaves = leavesOf(bytes)
  const tree = toHex(mth(leaves))
  const request = (start: number, end: number): RangeRequest => ({ bucket: 'b', key: 'k', sha256: '', size: bytes.byteLength, tree, start, end })
  /** What a holder sends for the range: its answer, and the chunks' bytes cut into pieces of `piece`. */
  const holder = (start: number, end: number, piece: number): { answer: Record<string, unknown>, pieces: Uint8Array[] } => {
    const first = Math.floor(start / C)
    const last = Math.floor(end / C)
    const sent = bytes.subarray(first * C, Math.min((last + 1) * C, bytes.byteLength))
    const pieces: Uint8Array[] = []
    for (let i = 0; i < sent.byteLength; i += piece) pieces.push(sent.subarray(i, i + piece))
    return { answer: rangeAnswer(new ChunkTree(webHashes, leaves), first, last), pieces }
  }

  it('passes on exactly the range, and only once each chunk holding it is whole and checked', () => {
    for (const [start, end] of [[0, 0], [0, C - 1], [C - 1, C], [2 * C + 5, 4 * C + 100], [bytes.byteLength - 10, bytes.byteLength - 1], [0, bytes.byteLength - 1]] as const) {
      const { answer, pieces } = holder(start, end, 100_000)
      const check = new RangeCheck(webHashes, request(start, end), answer, 'peer')
      const out: Uint8Array[] = []
      for (const [i, p] of pieces.entries()) {
        const got = check.take([p])
        // Nothing comes out before a chunk's last byte arrives.
        const chunkDone = ((i + 1) * 100_000) % C < 100_000 || i === pieces.length - 1
        if (!chunkDone) assert.equal(got.length, 0, `piece ${i} of ${start}-${end} let bytes out before its chunk was whole`)
        out.push(...got)
      }
      assert.ok(check.complete)
      assert.ok(Buffer.concat(out).equals(bytes.subarray(start, end + 1)), `${start}-${end}`)
    }
  })

  it('refuses leaves that do not lead to the root before any byte, and a chunk whose bytes differ from its leaf', () => {
    const { answer, pieces } = holder(C + 10, 3 * C, C / 4)
    const otherLeaves = leavesOf(new Uint8Array(randomBytes(bytes.byteLength)))
    assert.throws(() => new RangeCheck(webHashes, request(C + 10, 3 * C), rangeAnswer(new ChunkTree(webHashes, otherLeaves), 1, 3), 'peer'), /does not lead to its root/)
    assert.throws(() => new RangeCheck(webHashes, request(C + 10, 3 * C), { ...answer, proof: new Uint8Array(0) }, 'peer'), /does not lead to its root/)
    assert.throws(() => new RangeCheck(webHashes, request(C + 10, 3 * C), { ...answer, leaves: (answer.leaves as Uint8Array).subarray(32) }, 'peer'), /does not lead to its root/)

    const check = new RangeCheck(webHashes, request(C + 10, 3 * C), answer, 'peer')
    const bad = pieces.map(p => new Uint8Array(p))
    bad[5]![9]! ^= 0xff // in the second chunk sent (chunk 2)
    const out: Uint8Array[] = []
    assert.throws(() => { for (const p of bad) out.push(...check.take([p])) }, /chunk 2 .* do not match its tree/)
    assert.equal(Buffer.concat(out).byteLength, C - 10, 'only the first chunk, which was good, came out')
    assert.equal(leafHash(webHashes, [bytes.subarray(C, 2 * C)]).byteLength, 32)
    assert.equal(joinHashes(leaves).byteLength, leaves.length * 32)
  })
})

describe('range pieces', () => {
  it('cut a long range at chunk boundaries into requests of at most so many chunks, covering it exactly', () => {
    assert.deepEqual(rangePieces(10, 20, 4), [{ start: 10, end: 20 }])
    const pieces = rangePieces(C + 5, 9 * C + 7, 3)
    assert.deepEqual(pieces, [{ start: C + 5, end: 4 * C - 1 }, { start: 4 * C, end: 7 * C - 1 }, { start: 7 * C, end: 9 * C + 7 }])
    for (const [a, b] of [[0, 100 * C - 1], [3, 5 * C], [C - 1, C]] as const) {
      const p = rangePieces(a, b, 2)
      assert.equal(p[0]!.start, a)
      assert.equal(p.at(-1)!.end, b)
      for (let i = 1; i < p.length; i++) assert.equal(p[i]!.start, p[i - 1]!.end + 1)
      for (const q of p) assert.ok(Math.floor(q.end / C) - Math.floor(q.start / C) < 2, `${q.start}-${q.end} spans at most two chunks`)
    }
  })
})
