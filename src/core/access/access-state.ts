/**
 * The mesh's users, keys, groups, policies and bucket access as one
 * replicated state: records merged by last writer (HLC version, ties by node
 * id), deletions kept as tombstones so a late copy of a deleted record does
 * not bring it back. Every node holds all of it (it is small beside the
 * catalog); a change made here is handed to the listeners (the node saves
 * it, the mesh gossips it) and a change heard from a peer is merged the same
 * way, so every node converges on the same records.
 */
import { S3Error } from '../errors.js'
import { compareVersions, HybridClock, type Version } from '../mesh/hlc.js'
import { asRecord, idOf, recordId, type AccessEntry, type AccessRecord, type AttachRecord, type GroupRecord, type InlineRecord, type KeyRecord, type OwnerKind, type PolicyRecord, type UserRecord } from './access-records.js'

/** Told of the entries that changed, local or merged: `local` when this node wrote them. */
export type AccessListener = (entries: AccessEntry[], local: boolean) => void | Promise<void>

export class AccessState {
  private readonly entries = new Map<string, AccessEntry>()
  private readonly listeners = new Set<AccessListener>()
  /** Bumped on every change: what caches built from the records compare against. */
  private gen = 0

  /**
   * @param node this node's id: the tie-breaker of its versions
   * @param clock the node's hybrid clock (shared with the catalog on a mesh node)
   */
  constructor (
    readonly node: string,
    private readonly clock = new HybridClock(),
    /** A copy that is only merged into (an edge worker's): commit() refuses, changes are made through a node. */
    readonly readOnly = false,
  ) {}

  /** Changes with each merge or write; equal generations mean equal records. */
  get generation (): number { return this.gen }

  /** Listens for changes; returns the function that stops listening. */
  onChange (listener: AccessListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /**
   * Writes records and deletes ids as one change, versioned now; resolves
   * once every listener (the node's save to disk) has taken it.
   */
  async commit (put: AccessRecord[], remove: string[] = []): Promise<AccessEntry[]> {
    if (this.readOnly) throw new S3Error('NotImplemented', 'Users, bucket policies and ACLs are changed through a mesh node: this copy of them (an edge worker\'s) is read-only.')
    // What every peer will check it against: a record they would refuse is refused here, before it is kept.
    for (const record of put) if (asRecord(record) === undefined) throw new TypeError(`Not an access record peers would accept: ${JSON.stringify(record).slice(0, 120)}`)
    const changed: AccessEntry[] = []
    for (const record of put) changed.push({ id: recordId(record), version: this.tick(), record })
    for (const id of remove) if (this.get(id) !== undefined) changed.push({ id, version: this.tick() })
    for (const e of changed) this.entries.set(e.id, e)
    if (changed.length > 0) this.gen++
    await this.tell(changed, true)
    return changed
  }

  /**
   * Merges entries from a peer or a file: each replaces ours only when its
   * version is later. Resolves to those that did. `trusted` (this node's own
   * file) skips the drift check: after the host's clock stepped back, what
   * the node saved itself is still its own.
   */
  async merge (incoming: AccessEntry[], tell = true, trusted = false): Promise<AccessEntry[]> {
    const changed: AccessEntry[] = []
    for (const e of incoming) {
      const ours = this.entries.get(e.id)
      if (ours !== undefined && compareVersions(ours.version, e.version) >= 0) continue
      try {
        this.clock.observe(e.version)
      } catch {
        if (!trusted) continue // a clock far ahead of ours: refused, as the catalog refuses it
      }
      this.entries.set(e.id, e)
      changed.push(e)
    }
    if (changed.length > 0) {
      this.gen++
      if (tell) await this.tell(changed, false)
    }
    return changed
  }

  /** Every entry, tombstones included: what anti-entropy and the state file carry. */
  all (): AccessEntry[] {
    return [...this.entries.values()]
  }

  /** A short fingerprint of every id and version: equal on two nodes means nothing to exchange. */
  digest (): string {
    let h1 = 0x811c9dc5 | 0
    let h2 = 0x01000193 | 0
    for (const id of [...this.entries.keys()].sort()) {
      const v = this.entries.get(id)!.version
      const s = `${id}@${v.ms}.${v.counter}.${v.node};`
      for (let i = 0; i < s.length; i++) {
        h1 = Math.imul(h1 ^ s.charCodeAt(i), 0x01000193)
        h2 = Math.imul(h2 ^ s.charCodeAt(i), 0x5bd1e995)
      }
    }
    return `${this.entries.size}:${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`
  }

  /** The live record filed under an id. */
  get (id: string): AccessRecord | undefined {
    return this.entries.get(id)?.record
  }

  user (name: string): UserRecord | undefined { return this.get(idOf('user', name)) as UserRecord | undefined }
  key (accessKeyId: string): KeyRecord | undefined { return this.get(idOf('key', accessKeyId)) as KeyRecord | undefined }
  group (name: string): GroupRecord | undefined { return this.get(idOf('group', name)) as GroupRecord | undefined }
  policy (name: string): PolicyRecord | undefined { return this.get(idOf('policy', name)) as PolicyRecord | undefined }

  /** Live records of one kind. */
  list<K extends AccessRecord['kind']> (kind: K): Array<Extract<AccessRecord, { kind: K }>> {
    const out: Array<Extract<AccessRecord, { kind: K }>> = []
    for (const e of this.entries.values()) if (e.record?.kind === kind) out.push(e.record as Extract<AccessRecord, { kind: K }>)
    return out
  }

  keysOf (user: string): KeyRecord[] { return this.list('key').filter(k => k.user === user) }
  groupsOf (user: string): string[] { return this.list('member').filter(m => m.user === user && this.group(m.group) !== undefined).map(m => m.group) }
  membersOf (group: string): string[] { return this.list('member').filter(m => m.group === group && this.user(m.user) !== undefined).map(m => m.user) }
  attached (owner: OwnerKind, name: string): AttachRecord[] { return this.list('attach').filter(a => a.owner === owner && a.name === name) }
  inline (owner: OwnerKind, name: string): InlineRecord[] { return this.list('inline').filter(a => a.owner === owner && a.name === name) }

  /** Everything that names a user, group or policy: what deleting it removes. */
  dependents (owner: OwnerKind, name: string): string[] {
    const ids: string[] = []
    for (const e of this.entries.values()) {
      const r = e.record
      if (r === undefined) continue
      if ((r.kind === 'attach' || r.kind === 'inline') && r.owner === owner && r.name === name) ids.push(e.id)
      else if (r.kind === 'member' && (owner === 'user' ? r.user : r.group) === name) ids.push(e.id)
      else if (owner === 'user' && r.kind === 'key' && r.user === name) ids.push(e.id)
    }
    return ids
  }

  private tick (): Version {
    return { ...this.clock.tick(), node: this.node }
  }

  private async tell (entries: AccessEntry[], local: boolean): Promise<void> {
    if (entries.length === 0) return
    for (const l of this.listeners) await l(entries, local)
  }
}
