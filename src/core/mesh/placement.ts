import { sha256 } from '@noble/hashes/sha2'
import { utf8 } from '../hashes.js'

/**
 * Rendezvous (highest random weight) hashing: every member scores every
 * object, and an object's replicas are the R members with the highest
 * scores. When a member goes, only the objects it held move; when one comes,
 * only the objects it now wins move to it. Any member computes the same
 * placement from the same member list, with no coordination.
 *
 * The object and the member are each hashed once (SHA-256, 64 bits kept),
 * and a score mixes the two with murmur3's finaliser, so placing an object
 * over n members costs one hash and n cheap mixes.
 */

/** 64 bits of an id's SHA-256 as two 32-bit halves. */
export type Hash64 = readonly [number, number]

export function hash64 (text: string): Hash64 {
  const d = sha256(utf8(text))
  return [(d[0]! << 24 | d[1]! << 16 | d[2]! << 8 | d[3]!) >>> 0, (d[4]! << 24 | d[5]! << 16 | d[6]! << 8 | d[7]!) >>> 0]
}

/** The hash of an object's place: bucket and key, separated by a byte no bucket name has. */
export function objectHash (bucket: string, key: string): Hash64 {
  return hash64(`${bucket}\n${key}`)
}

function fmix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A member's score for an object: 53 well-mixed bits, compared as a number. */
export function score (object: Hash64, member: Hash64): number {
  const hi = fmix32((object[0] ^ member[0]) + Math.imul(object[1] ^ member[1], 0x9e3779b1))
  const lo = fmix32((object[1] ^ member[1]) ^ hi)
  return (hi & 0x1fffff) * 0x100000000 + lo
}

/** Members with their hashes, computed once per membership change. */
export class Placement {
  private readonly members: Array<{ id: string, hash: Hash64 }>

  constructor (memberIds: Iterable<string>) {
    this.members = [...new Set(memberIds)].sort().map(id => ({ id, hash: hash64(id) }))
  }

  get size (): number { return this.members.length }

  /** The `r` members that should hold (bucket, key), best first. Fewer when fewer members exist. */
  replicas (bucket: string, key: string, r: number): string[] {
    return this.top(objectHash(bucket, key), r)
  }

  /** The `r` members that keep a bucket's part of the catalog, best first (a hash of its own, apart from its objects'). */
  owners (bucket: string, r: number): string[] {
    return this.top(hash64(`catalog\n${bucket}`), r)
  }

  private top (h: Hash64, r: number): string[] {
    return this.members
      .map(m => ({ id: m.id, s: score(h, m.hash) }))
      // Ties (1 in 2^53) fall to the id, so every member still agrees.
      .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1))
      .slice(0, r)
      .map(m => m.id)
  }
}
