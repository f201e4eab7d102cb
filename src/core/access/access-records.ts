/**
 * What the access layer keeps, as small independent records: a user, an
 * access key, a group, a group membership, a managed policy, an inline
 * policy, an attachment, a bucket's policy, a canned ACL. Each record is
 * merged on its own (last writer by HLC), so two nodes attaching two
 * policies to one user at once both win: an edit never overwrites a
 * neighbour's. A record's id is derived from its fields, so a peer cannot
 * file a record under another's id.
 */
import type { Version } from '../mesh/hlc.js'

/** The canned ACLs S3 defines that s3mesh honours. */
export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read'] as const
export type CannedAcl = typeof CANNED_ACLS[number]

/** A canned ACL kept as text (with a multipart upload), if it is one. */
export function cannedAclOf (text: string | undefined): CannedAcl | undefined {
  return (CANNED_ACLS as readonly string[]).includes(text as string) ? text as CannedAcl : undefined
}

/**
 * S3's other canned ACLs, which give nothing beyond the owner's own rights
 * where, as here, the bucket's and every object's owner is the one account:
 * each is kept as `private`, and reported as the owner's FULL_CONTROL. New
 * AWS buckets accept only `bucket-owner-full-control` besides no ACL, and
 * many tools send it with every upload (S3A, Firehose, cross-account writers).
 */
export const OWNER_ONLY_ACLS = ['bucket-owner-full-control', 'bucket-owner-read', 'aws-exec-read', 'log-delivery-write'] as const

/** Who an inline policy or an attachment belongs to. */
export type OwnerKind = 'user' | 'group'

export interface UserRecord { kind: 'user', name: string, /** IAM's UserId (AIDA...): aws:userid. */ id: string, enabled: boolean, created: number }
export interface KeyRecord { kind: 'key', /** The access key id. */ id: string, user: string, secret: string, active: boolean, created: number }
export interface GroupRecord { kind: 'group', name: string, id: string, created: number }
export interface MemberRecord { kind: 'member', group: string, user: string }
export interface PolicyRecord { kind: 'policy', name: string, id: string, document: string, created: number, updated: number }
export interface InlineRecord { kind: 'inline', owner: OwnerKind, name: string, policy: string, document: string }
export interface AttachRecord { kind: 'attach', owner: OwnerKind, name: string, policy: string }
export interface BucketPolicyRecord { kind: 'bucket-policy', bucket: string, document: string }
export interface BucketAclRecord { kind: 'bucket-acl', bucket: string, acl: CannedAcl }
export interface ObjectAclRecord { kind: 'object-acl', bucket: string, key: string, acl: CannedAcl }

export type AccessRecord = UserRecord | KeyRecord | GroupRecord | MemberRecord | PolicyRecord | InlineRecord | AttachRecord | BucketPolicyRecord | BucketAclRecord | ObjectAclRecord
export type RecordKind = AccessRecord['kind']

/** One record as merged: its id, the version that wrote it, and the record (absent: deleted, a tombstone). */
export interface AccessEntry {
  id: string
  version: Version
  record?: AccessRecord
}

/** The id a record is filed under: its kind and the fields that name it. */
export function recordId (r: AccessRecord): string {
  switch (r.kind) {
    case 'user': return idOf('user', r.name)
    case 'key': return idOf('key', r.id)
    case 'group': return idOf('group', r.name)
    case 'member': return idOf('member', r.group, r.user)
    case 'policy': return idOf('policy', r.name)
    case 'inline': return idOf('inline', r.owner, r.name, r.policy)
    case 'attach': return idOf('attach', r.owner, r.name, r.policy)
    case 'bucket-policy': return idOf('bucket-policy', r.bucket)
    case 'bucket-acl': return idOf('bucket-acl', r.bucket)
    case 'object-acl': return idOf('object-acl', r.bucket, r.key)
  }
}

/** Fields are joined with NUL, which no name, key or bucket may contain. */
export function idOf (kind: RecordKind, ...fields: string[]): string {
  return [kind, ...fields].join('\u0000')
}

export function kindOf (id: string): RecordKind {
  return id.slice(0, id.indexOf('\u0000')) as RecordKind
}

/** The fields of each kind, and their types: what a record from a peer must have, and nothing else. */
const SHAPES: Record<RecordKind, Record<string, 'string' | 'number' | 'boolean'>> = {
  user: { name: 'string', id: 'string', enabled: 'boolean', created: 'number' },
  key: { id: 'string', user: 'string', secret: 'string', active: 'boolean', created: 'number' },
  group: { name: 'string', id: 'string', created: 'number' },
  member: { group: 'string', user: 'string' },
  policy: { name: 'string', id: 'string', document: 'string', created: 'number', updated: 'number' },
  inline: { owner: 'string', name: 'string', policy: 'string', document: 'string' },
  attach: { owner: 'string', name: 'string', policy: 'string' },
  'bucket-policy': { bucket: 'string', document: 'string' },
  'bucket-acl': { bucket: 'string', acl: 'string' },
  'object-acl': { bucket: 'string', key: 'string', acl: 'string' },
}

/** A record read from a peer or a file, checked field by field; undefined if it is not one. */
export function asRecord (v: unknown): AccessRecord | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const o = v as Record<string, unknown>
  const shape = typeof o.kind === 'string' ? SHAPES[o.kind as RecordKind] : undefined
  if (shape === undefined || Object.keys(o).length !== Object.keys(shape).length + 1) return undefined
  for (const [field, type] of Object.entries(shape)) {
    if (typeof o[field] !== type) return undefined
    if (type === 'string' && (o[field] as string).includes('\u0000')) return undefined
  }
  if ((o.kind === 'inline' || o.kind === 'attach') && o.owner !== 'user' && o.owner !== 'group') return undefined
  if ((o.kind === 'bucket-acl' || o.kind === 'object-acl') && !(CANNED_ACLS as readonly string[]).includes(o.acl as string)) return undefined
  return o as unknown as AccessRecord
}

/** An entry read from a peer or a file; undefined if it is malformed or its id does not name its record. */
export function asEntry (v: unknown): AccessEntry | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const o = v as Record<string, unknown>
  const ver = o.version as Record<string, unknown> | undefined
  if (typeof o.id !== 'string' || typeof ver !== 'object' || ver === null) return undefined
  if (typeof ver.ms !== 'number' || typeof ver.counter !== 'number' || typeof ver.node !== 'string' || !Number.isSafeInteger(ver.ms) || !Number.isSafeInteger(ver.counter)) return undefined
  const version = { ms: ver.ms, counter: ver.counter, node: ver.node }
  if (o.record === undefined || o.record === null) {
    return SHAPES[kindOf(o.id)] === undefined ? undefined : { id: o.id, version }
  }
  const record = asRecord(o.record)
  if (record === undefined || recordId(record) !== o.id) return undefined
  return { id: o.id, version, record }
}
