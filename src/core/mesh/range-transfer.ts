import { toHex, type Hashes } from '../hashes.js'
import type { ObjectHandle } from '../object-store.js'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import {
  ChunkTree, chunkSpan, joinHashes, leafCount, leafHash, rootOfRange, splitHashes, TREE_CHUNK_BYTES, TreeHasher,
} from './chunk-tree.js'
import { ContentMismatchError } from './verify-stream.js'

/**
 * The two halves of a range read between members (TransferService.getRange
 * and its serving side): what the holder sends for a range of an object with
 * a chunk tree, and how the reader checks it. Only the chunks that hold the
 * range travel, each checked against the tree's root in the catalog entry
 * before any of its bytes are passed on.
 */

/** Chunks one range request may ask for (1 GiB); a longer range is read as several (HolderFetcher.readRange). */
export const MAX_RANGE_CHUNKS = 4096

/** A range cut into pieces of at most `maxChunks` chunks each, cut at chunk boundaries (each piece is one request). */
export function rangePieces (start: number, end: number, maxChunks = MAX_RANGE_CHUNKS): Array<{ start: number, end: number }> {
  const pieces: Array<{ start: number, end: number }> = []
  for (let at = start; at <= end;) {
    const to = Math.min(end, (Math.floor(at / TREE_CHUNK_BYTES) + maxChunks) * TREE_CHUNK_BYTES - 1)
    pieces.push({ start: at, end: to })
    at = to + 1
  }
  return pieces
}

/** What a reader asks a holder for. */
export interface RangeRequest {
  bucket: string
  key: string
  /** The version's local id, for a slot of a bucket with versioning set (see TransferService.get). */
  versionId?: string
  sha256: string
  size: number
  /** Hex root of the version's chunk tree. */
  tree: string
  /** Bytes wanted, inclusive. */
  start: number
  end: number
}

/** The request's fields on the wire (chunk indices: the holder sends whole chunks). */
export function rangeRequestFields (r: RangeRequest): Record<string, unknown> {
  const { first, last } = chunkSpan(r.start, r.end)
  return { op: 'range', bucket: r.bucket, key: r.key, ...(r.versionId === undefined ? {} : { versionId: r.versionId }), sha256: r.sha256, tree: r.tree, first, last }
}

/** A range request as the holder reads it; DroppedMessageError if malformed. */
export function parseRangeRequest (r: Record<string, unknown>): { bucket: string, key: string, versionId?: string, sha256: string, tree: string, first: number, last: number } {
  const { bucket, key, sha256, tree, first, last } = r
  const versionId = requestedVersion(r)
  if (typeof bucket !== 'string' || typeof key !== 'string' || typeof sha256 !== 'string' || typeof tree !== 'string' ||
    !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || (first as number) < 0 || (last as number) < (first as number) || (last as number) - (first as number) >= MAX_RANGE_CHUNKS) {
    throw new DroppedMessageError('malformed', 'A malformed range request.')
  }
  return { bucket, key, ...(versionId === undefined ? {} : { versionId }), sha256, tree, first: first as number, last: last as number }
}

/** The version a get or range request names, if any; DroppedMessageError if it is not a version id. */
export function requestedVersion (r: Record<string, unknown>): string | undefined {
  const v = r.versionId
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '' || v.length > 1024) throw new DroppedMessageError('malformed', 'A request naming a malformed version.')
  return v
}

/** A holder cannot serve a range from its copy: it has none of that content, or (`rotten`) its copy does not hash to it. */
export class UnusableCopyError extends Error {
  override name = 'UnusableCopyError'
  constructor (message: string, readonly rotten = false) { super(message) }
}

/**
 * The trees of the objects this member has served ranges of, by content.
 * Each is made from the local copy the first time a range of it is asked
 * for (one read of the whole copy; leaves that lead to the catalog's root
 * say the copy is that content), then kept, newest used last out, up to `maxLeaves` leaves in all
 * (the default holds the trees of 16 GiB of objects, inner nodes too, in a few MB).
 */
export class ServedTrees {
  /** By content: the tree once made (its leaves counted in `held`), and the making, which readers asking meanwhile share. */
  private readonly known = new Map<string, { making: Promise<ChunkTree>, tree?: ChunkTree }>()
  private held = 0

  constructor (private readonly hashes: Hashes, private readonly maxLeaves = 65_536) {}

  /** The tree of content `sha256` with root `tree`, from `open`'s copy unless known; UnusableCopyError if the copy is not that content. */
  async tree (sha256: string, tree: string, open: () => Promise<ObjectHandle | undefined>): Promise<ChunkTree> {
    const id = `${sha256}\n${tree}`
    const seen = this.known.get(id)
    if (seen !== undefined) {
      // Most recently used goes last: the first in the map is the next to go.
      this.known.delete(id)
      this.known.set(id, seen)
      return seen.tree ?? await seen.making
    }
    const entry: { making: Promise<ChunkTree>, tree?: ChunkTree } = { making: this.make(sha256, tree, open) }
    this.known.set(id, entry)
    let made: ChunkTree
    try {
      made = await entry.making
    } catch (err) {
      if (this.known.get(id) === entry) this.known.delete(id)
      throw err
    }
    // Forgotten while it was made: served this once, not kept.
    if (this.known.get(id) !== entry) return made
    entry.tree = made
    this.held += made.leaves.length
    // Only made trees go; one being made is skipped (its maker counts it when done).
    for (const [other, e] of this.known) {
      if (this.held <= this.maxLeaves) break
      if (other === id || e.tree === undefined) continue
      this.known.delete(other)
      this.held -= e.tree.leaves.length
    }
    return made
  }

  /** Drops what is known of a content (a reader found a chunk of it bad: the next range read makes the tree again, and checks the copy). */
  forget (sha256: string, tree: string): void {
    const id = `${sha256}\n${tree}`
    const e = this.known.get(id)
    if (e === undefined) return
    this.known.delete(id)
    if (e.tree !== undefined) this.held -= e.tree.leaves.length
  }

  private async make (sha256: string, tree: string, open: () => Promise<ObjectHandle | undefined>): Promise<ChunkTree> {
    const hasher = new TreeHasher(this.hashes)
    await this.read(open, chunk => { hasher.update(chunk) })
    const made = new ChunkTree(this.hashes, hasher.finish())
    if (toHex(made.root) === tree) return made
    // Not the tree asked for: either the copy rotted or the tree is not this content's. Its SHA-256 tells which
    // (one more read, only then: checking it every time would double the first range's wait).
    const whole = this.hashes.create('sha256')
    await this.read(open, chunk => { whole.update(chunk) })
    if (toHex(whole.digest()) !== sha256) throw new UnusableCopyError('this member\'s copy does not hash to the version', true)
    throw new UnusableCopyError('the version\'s tree differs from the one asked for')
  }

  /** Reads the whole local copy through `use`. */
  private async read (open: () => Promise<ObjectHandle | undefined>, use: (chunk: Uint8Array) => void): Promise<void> {
    const handle = await open()
    if (handle === undefined) throw new UnusableCopyError('this member does not hold that content')
    const reader = handle.stream().getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      use(value)
    }
  }
}

/** The holder's answer to a range request: the range's leaves and the hashes beside them. */
export function rangeAnswer (tree: ChunkTree, first: number, last: number): Record<string, unknown> {
  if (last >= tree.leaves.length) throw new RangeError(`chunk ${last} is past the end (${tree.leaves.length} chunks)`)
  return { status: 'ok', leaves: joinHashes(tree.leaves.slice(first, last + 1)), proof: joinHashes(tree.proof(first, last)) }
}

/** The bytes a holder sends for chunks first..last of an object of `size` bytes. */
export function chunkBytes (first: number, last: number, size: number): { start: number, end: number } {
  return { start: first * TREE_CHUNK_BYTES, end: Math.min((last + 1) * TREE_CHUNK_BYTES, size) - 1 }
}

/**
 * The reader's check of a range as it arrives: the holder's leaves and proof
 * against the catalog's root first (`constructor` throws if they do not
 * make it), then each chunk against its leaf once it is whole; only checked
 * bytes within the range come out.
 */
export class RangeCheck {
  private readonly leaves: Uint8Array[]
  private readonly first: number
  private readonly last: number
  private chunk = 0
  private pieces: Uint8Array[] = []
  private filled = 0

  constructor (private readonly hashes: Hashes, private readonly r: RangeRequest, answer: Record<string, unknown>, private readonly peer: string) {
    const span = chunkSpan(r.start, r.end)
    this.first = span.first
    this.last = span.last
    const leaves = answer.leaves instanceof Uint8Array ? splitHashes(answer.leaves) : undefined
    const proof = answer.proof instanceof Uint8Array ? splitHashes(answer.proof) : undefined
    const root = leaves === undefined || proof === undefined || leaves.length !== this.last - this.first + 1
      ? undefined
      : rootOfRange(hashes, leafCount(r.size), this.first, leaves, proof)
    if (root === undefined || toHex(root) !== r.tree) throw new ContentMismatchError(`${peer} sent a tree for ${r.bucket}/${r.key} that does not lead to its root.`)
    this.leaves = leaves!
    this.chunk = this.first
  }

  /** Takes pieces as they arrive; returns the checked bytes of the range they complete. ContentMismatchError if a chunk is bad. */
  take (pieces: Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let p of pieces) {
      while (p.byteLength > 0) {
        if (this.chunk > this.last) throw new ContentMismatchError(`${this.peer} sent more than the range of ${this.r.bucket}/${this.r.key}.`)
        const { start, end } = chunkBytes(this.chunk, this.chunk, this.r.size)
        const n = Math.min(p.byteLength, end - start + 1 - this.filled)
        this.pieces.push(n === p.byteLength ? p : p.subarray(0, n))
        this.filled += n
        p = p.subarray(n)
        if (this.filled === end - start + 1) out.push(...this.checked(start))
      }
    }
    return out
  }

  /** Whether every chunk of the range has arrived (and passed). */
  get complete (): boolean {
    return this.chunk > this.last
  }

  /** The current chunk is whole: checked against its leaf, then trimmed to the range. */
  private checked (chunkStart: number): Uint8Array[] {
    if (!sameBytes(leafHash(this.hashes, this.pieces), this.leaves[this.chunk - this.first]!)) {
      throw new ContentMismatchError(`${this.peer} sent chunk ${this.chunk} of ${this.r.bucket}/${this.r.key} with bytes that do not match its tree.`)
    }
    const out: Uint8Array[] = []
    let at = chunkStart
    for (const p of this.pieces) {
      const from = Math.max(this.r.start - at, 0)
      const to = Math.min(this.r.end + 1 - at, p.byteLength)
      if (to > from) out.push(from === 0 && to === p.byteLength ? p : p.subarray(from, to))
      at += p.byteLength
    }
    this.pieces = []
    this.filled = 0
    this.chunk++
    return out
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
