import type { Hash, Hashes } from '../hashes.js'

/**
 * A Merkle tree over an object's 256 KiB chunks, so that a range read from a
 * holder can be checked without the rest of the object: the whole-object
 * SHA-256 in the catalog can only check whole reads. The tree is RFC 6962's
 * (Certificate Transparency): a leaf is SHA-256(0x00 ‖ chunk), a node
 * SHA-256(0x01 ‖ left ‖ right), and n leaves split at the largest power of
 * two below n. Its root is kept in the catalog entry (`ObjectRecord.tree`)
 * for objects of more than TREE_MIN_BYTES; a holder sends a range's chunks with
 * their leaf hashes and the hashes of the subtrees beside them (at most two
 * per level), and the reader checks them against that root before it passes
 * on a byte.
 */
export const TREE_CHUNK_BYTES = 256 * 1024

/**
 * Objects above this size get a tree. Smaller ones are read whole even for a
 * range (they are had whole before the answer anyway), so a tree would only
 * cost their writer a second hashing pass.
 */
export const TREE_MIN_BYTES = 1024 * 1024

/** Bytes of one hash in the tree. */
export const TREE_HASH_BYTES = 32

const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])

/** Whether an object of this size gets a tree. */
export function hasTree (size: number): boolean {
  return size > TREE_MIN_BYTES
}

/** The leaves of an object of `size` bytes. */
export function leafCount (size: number): number {
  return Math.max(1, Math.ceil(size / TREE_CHUNK_BYTES))
}

/** The chunks holding bytes start..end (inclusive). */
export function chunkSpan (start: number, end: number): { first: number, last: number } {
  return { first: Math.floor(start / TREE_CHUNK_BYTES), last: Math.floor(end / TREE_CHUNK_BYTES) }
}

/** Hashes a body into its leaves as it flows by, in one pass. */
export class TreeHasher {
  readonly leaves: Uint8Array[] = []
  /** Bytes fed so far. */
  bytes = 0
  private leaf: Hash | undefined
  private filled = 0

  constructor (private readonly hashes: Hashes) {}

  update (data: Uint8Array): void {
    this.bytes += data.byteLength
    for (let i = 0; i < data.byteLength;) {
      if (this.leaf === undefined) {
        this.leaf = this.hashes.create('sha256')
        this.leaf.update(LEAF)
        this.filled = 0
      }
      const n = Math.min(data.byteLength - i, TREE_CHUNK_BYTES - this.filled)
      this.leaf.update(i === 0 && n === data.byteLength ? data : data.subarray(i, i + n))
      this.filled += n
      i += n
      if (this.filled === TREE_CHUNK_BYTES) {
        this.leaves.push(this.leaf.digest())
        this.leaf = undefined
      }
    }
  }

  /** The leaves of everything fed (an empty body has one, of no bytes). */
  finish (): Uint8Array[] {
    if (this.leaf !== undefined || this.leaves.length === 0) {
      const leaf = this.leaf ?? this.hashes.create('sha256')
      if (this.leaf === undefined) leaf.update(LEAF)
      this.leaves.push(leaf.digest())
      this.leaf = undefined
    }
    return this.leaves
  }
}

/** The leaf hash of one chunk. */
export function leafHash (hashes: Hashes, pieces: Uint8Array[]): Uint8Array {
  const h = hashes.create('sha256')
  h.update(LEAF)
  for (const p of pieces) h.update(p)
  return h.digest()
}

/** The tree's root over its leaves. */
export function treeRoot (hashes: Hashes, leaves: Uint8Array[]): Uint8Array {
  return new ChunkTree(hashes, leaves).root
}

/**
 * An object's tree, every inner node hashed once and kept, so that a holder
 * answers each range's proof with hashes it has: made afresh for every range,
 * a 256 MiB object's 1,023 inner hashes cost the holder 1.5 ms a range, and
 * ten times that at 2.5 GiB. The inner nodes take as many bytes as the leaves.
 */
export class ChunkTree {
  readonly root: Uint8Array
  /**
   * Each inner node's hash, at the gap between leaves where the node splits
   * its leaves in two (every inner node of a tree splits at a gap of its own,
   * so n leaves have n - 1 of them).
   */
  private readonly inner: Uint8Array

  constructor (hashes: Hashes, readonly leaves: Uint8Array[]) {
    if (leaves.length === 0) throw new RangeError('A tree has at least one leaf.')
    this.inner = new Uint8Array((leaves.length - 1) * TREE_HASH_BYTES)
    const build = (lo: number, hi: number): Uint8Array => {
      if (hi - lo === 1) return leaves[lo]!
      const k = split(hi - lo)
      const at = (lo + k - 1) * TREE_HASH_BYTES
      this.inner.set(node(hashes, build(lo, lo + k), build(lo + k, hi)), at)
      return this.inner.subarray(at, at + TREE_HASH_BYTES)
    }
    this.root = build(0, leaves.length)
  }

  /**
   * The hashes a reader of leaves first..last needs besides them to reach the
   * root: those of the largest subtrees beside the range, left to right as
   * `rootOfRange` takes them.
   */
  proof (first: number, last: number): Uint8Array[] {
    checkSpan(this.leaves.length, first, last)
    const out: Uint8Array[] = []
    const walk = (lo: number, hi: number): void => {
      if (hi <= first || lo > last) { out.push(this.subtree(lo, hi)); return }
      if (hi - lo === 1) return
      const k = split(hi - lo)
      walk(lo, lo + k)
      walk(lo + k, hi)
    }
    walk(0, this.leaves.length)
    return out
  }

  /** The hash of the subtree over leaves lo..hi-1, as the tree splits them. */
  private subtree (lo: number, hi: number): Uint8Array {
    if (hi - lo === 1) return this.leaves[lo]!
    const at = (lo + split(hi - lo) - 1) * TREE_HASH_BYTES
    return this.inner.subarray(at, at + TREE_HASH_BYTES)
  }
}

/**
 * The root that leaves first.. (`rangeLeaves`, consecutive) and `proof` make
 * in a tree of `count` leaves; undefined when the proof has too few or too
 * many hashes. The reader compares it with the root it trusts.
 */
export function rootOfRange (hashes: Hashes, count: number, first: number, rangeLeaves: Uint8Array[], proof: Uint8Array[]): Uint8Array | undefined {
  const last = first + rangeLeaves.length - 1
  if (rangeLeaves.length === 0 || first < 0 || last >= count) return undefined
  let p = 0
  let short = false
  const walk = (lo: number, hi: number): Uint8Array => {
    if (hi <= first || lo > last) {
      const h = proof[p++]
      if (h === undefined || h.byteLength !== TREE_HASH_BYTES) { short = true; return LEAF }
      return h
    }
    if (hi - lo === 1) return rangeLeaves[lo - first]!
    const k = split(hi - lo)
    const left = walk(lo, lo + k)
    return node(hashes, left, walk(lo + k, hi))
  }
  const root = walk(0, count)
  return short || p !== proof.length ? undefined : root
}

/** Hashes, each TREE_HASH_BYTES long, as one byte string (how they travel). */
export function joinHashes (list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.length * TREE_HASH_BYTES)
  list.forEach((h, i) => { out.set(h, i * TREE_HASH_BYTES) })
  return out
}

/** The reverse of joinHashes; undefined if the length is not a whole number of hashes. */
export function splitHashes (bytes: Uint8Array): Uint8Array[] | undefined {
  if (bytes.byteLength % TREE_HASH_BYTES !== 0) return undefined
  const out: Uint8Array[] = []
  for (let i = 0; i < bytes.byteLength; i += TREE_HASH_BYTES) out.push(bytes.subarray(i, i + TREE_HASH_BYTES))
  return out
}

function checkSpan (count: number, first: number, last: number): void {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last < first || last >= count) {
    throw new RangeError(`Leaves ${first}..${last} are not within a tree of ${count}.`)
  }
}

/** The largest power of two below n (n > 1). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function node (hashes: Hashes, left: Uint8Array, right: Uint8Array): Uint8Array {
  const h = hashes.create('sha256')
  h.update(NODE)
  h.update(left)
  h.update(right)
  return h.digest()
}
