import { decode, encode } from 'cborg'

/** What a member tells the others about itself (at most MembershipConfig.maxMetaBytes encoded). */
export interface NodeMeta {
  /**
   * durable: a Node.js node with a disk; relay: a Node.js node that relays and
   * admits tabs but stores nothing (never a placement target); ephemeral: a
   * browser tab; edge: an edge worker.
   */
  role: 'durable' | 'relay' | 'ephemeral' | 'edge'
  /** Multiaddrs others can dial (what `--join` accepts). */
  addrs: string[]
  /** s3mesh version. */
  version: string
  /** Bytes this member offers for storage, when it says. */
  capacity?: number
  /** When this member started, ms since the epoch (its uptime, for the console). */
  started?: number
  /** Bytes free on this member's disk, when it has one (refreshed every few minutes). */
  free?: number
  /** Objects and bytes this member holds copies of (counted by its repair loop's last cycle), for the console. */
  heldObjects?: number
  heldBytes?: number
  /** Its S3 endpoint as clients reach it (--public-url, else what it listens on), when it serves S3. */
  url?: string
  /**
   * What this member's release does that an older one does not, where the
   * mesh must wait for every member: a sum of FEATURES' bits (a number: the
   * meta's 512 bytes are mostly addresses).
   */
  caps?: number
}

/**
 * The features a release may announce, one bit each. `versions`: it keeps
 * object versions (docs/plans/versioning.md); an older member would take a
 * version for the key's only object, so versioning waits until every
 * durable member says this. `objectLock`: it keeps and enforces object
 * lock from the catalog (docs/plans/object-lock.md); an older member would
 * drop a version's lock and delete it, so no bucket gets object lock until
 * every durable member says this. `bucketClose`: it answers a bucket's
 * delete with the writes it is making to it (core/mesh/bucket-close.ts); a
 * delete does not ask a member without it. `conditionalDeletes`: as a
 * bucket's write arbiter it orders conditional deletes and takes
 * `If-Match: *` (core/mesh/write-arbiter.ts); an older one would forget a
 * delete it let happen and refuse `*`, so neither is made until every
 * durable member says this.
 */
export const FEATURES = { versions: 1, objectLock: 2, bucketClose: 4, conditionalDeletes: 8 } as const

/** The features this release announces (NodeMeta.caps). */
export const MEMBER_CAPS = FEATURES.versions | FEATURES.objectLock | FEATURES.bucketClose | FEATURES.conditionalDeletes

const ROLES = new Set(['durable', 'relay', 'ephemeral', 'edge'])

export function encodeNodeMeta (meta: NodeMeta): Uint8Array {
  return encode(meta)
}

/** Decodes meta strictly; undefined for anything that is not well-formed NodeMeta. */
export function decodeNodeMeta (bytes: Uint8Array): NodeMeta | undefined {
  try {
    const m = decode(bytes, { strict: true, useMaps: false }) as Record<string, unknown>
    if (typeof m !== 'object' || m === null || !ROLES.has(m.role as string) || typeof m.version !== 'string') return undefined
    if (!Array.isArray(m.addrs) || m.addrs.length > 16 || !m.addrs.every(a => typeof a === 'string' && a.length < 256)) return undefined
    const count = (v: unknown): boolean => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= 0)
    if (!count(m.capacity) || !count(m.started) || !count(m.free) || !count(m.heldObjects) || !count(m.heldBytes)) return undefined
    if (m.url !== undefined && (typeof m.url !== 'string' || m.url.length >= 256 || !/^https?:\/\//.test(m.url))) return undefined
    if (m.caps !== undefined && (!Number.isSafeInteger(m.caps) || (m.caps as number) < 0)) return undefined
    return {
      role: m.role as NodeMeta['role'], addrs: m.addrs as string[], version: m.version,
      ...(m.capacity !== undefined ? { capacity: m.capacity as number } : {}),
      ...(m.started !== undefined ? { started: m.started as number } : {}),
      ...(m.free !== undefined ? { free: m.free as number } : {}),
      ...(m.heldObjects !== undefined ? { heldObjects: m.heldObjects as number } : {}),
      ...(m.heldBytes !== undefined ? { heldBytes: m.heldBytes as number } : {}),
      ...(m.url !== undefined ? { url: m.url as string } : {}),
      ...(m.caps !== undefined ? { caps: m.caps as number } : {}),
    }
  } catch {
    return undefined
  }
}

/**
 * Meta that fits in `maxBytes`: the addresses in the order given (the ones to
 * try first first), as many as fit, each shorter than decodeNodeMeta allows.
 */
export function fitNodeMeta (meta: NodeMeta, maxBytes: number): Uint8Array {
  const addrs: string[] = []
  for (const a of meta.addrs) {
    if (a.length >= 256 || addrs.length >= 16) continue
    if (encodeNodeMeta({ ...meta, addrs: [...addrs, a] }).byteLength <= maxBytes) addrs.push(a)
  }
  return encodeNodeMeta({ ...meta, addrs })
}
