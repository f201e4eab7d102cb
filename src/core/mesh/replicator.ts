import { fanOut } from '../fan-out.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { DurableMembers } from './durable-members.js'
import type { LocalCopies, WriteHead } from './local-copies.js'
import type { StreamedPush, TransferService } from './transfer.js'

/**
 * Bytes a replica's branch may hold before the local write waits for it. A
 * replica's stream takes a round trip or two to open; without a lead a small
 * write's local commit (and so its announcement) waited for that. Bounded so
 * that a slow replica still holds a large upload back instead of piling it
 * up in memory.
 */
const REPLICA_LEAD_BYTES = 1024 * 1024

export interface ReplicatorOptions {
  copies: LocalCopies
  durable: DurableMembers
  transfer: TransferService
  /** Copies of each object, and how many must hold a write before it is acknowledged. */
  replicas: number
  writeQuorum: number
  /** Background pushes outlive the request, not the member. */
  stopping: AbortSignal
}

/** A write on its way to its replicas while it is made here (Replicator.begin). */
export interface WriteFan {
  /** The bytes for the local write. */
  local: ReadableStream<Uint8Array>
  pushes: StreamedPush[]
  /** The local write failed: no replica stores anything. */
  abort: (err: Error) => void
}

/**
 * Copies each new write to the other replicas placement picks. The bytes go
 * to them while they are written here (`begin`: the body fans out, at the
 * pace of the slowest beyond a 1 MiB lead), so a replica has all but at
 * most that lead by the time the local copy is committed; the version
 * follows the bytes. A replica that fails is replaced by the
 * next member in placement order, which gets the bytes from the local copy;
 * a write with no body to fan out (a completed multipart upload) is pushed
 * from the local copy too.
 */
export class Replicator {
  constructor (private readonly o: ReplicatorOptions) {}

  /**
   * The replicas of (bucket, key) besides this member, then the spares
   * behind them: the best-ranked others, one fewer than the replicas when
   * this member is durable (its own copy is one, placed or not:
   * DurableMembers.placed).
   */
  private plan (bucket: string, key: string): { targets: string[], spares: string[] } {
    const self = this.o.copies.self
    const others = this.o.durable.ranking(bucket, key).filter(id => id !== self)
    const n = this.o.replicas - (this.o.durable.has(self) ? 1 : 0)
    return { targets: others.slice(0, n), spares: others.slice(n) }
  }

  /** Starts sending a write's bytes to its replicas as `body` is read for the local write. */
  begin (head: WriteHead, body: ReadableStream<Uint8Array>): WriteFan {
    const { targets } = this.plan(head.bucket, head.key)
    if (targets.length === 0) return { local: body, pushes: [], abort: () => {} }
    const [local, ...branches] = fanOut(body, 1 + targets.length, { highWaterMark: REPLICA_LEAD_BYTES, size: chunk => chunk.byteLength })
    const pushes = targets.map((t, i) => this.o.transfer.pushStream(t, head, branches[i]!, this.o.stopping))
    return { local: local!, pushes, abort: err => { for (const p of pushes) p.abort(err) } }
  }

  /**
   * Gets a committed version to its replicas: commits what `fan` streamed, and
   * pushes from the local copy to replicas that failed (replaced by spares)
   * or had nothing streamed. Resolves once the write quorum holds it, or every
   * attempt has ended, with the members that took a copy by then; the rest go
   * on in the background and announce the copies they make.
   */
  async replicate (entry: CatalogEntry, signal?: AbortSignal, fan?: WriteFan): Promise<string[]> {
    const { targets, spares } = this.plan(entry.bucket, entry.key!)
    const copied: string[] = []
    /** Set once the writer has its answer: later copies are announced as they are made. */
    let settled = false
    if (targets.length === 0) return copied
    const s = this.o.stopping
    const fromDisk = async (target: string): Promise<void> => {
      // This version's copy (not the key's newest here: a later write of the key may have landed meanwhile).
      const handle = await this.o.copies.openLocal(entry.bucket, entry.key!, entry.object!.sha256, s, this.o.copies.localId(entry))
      if (handle === undefined) throw new Error('the local copy changed')
      await this.o.transfer.push(target, entry, handle.stream(), s)
    }
    const streamed = new Map((fan?.pushes ?? []).map(p => [p.target, p]))
    const lane = async (first: string): Promise<void> => {
      for (let target: string | undefined = first; target !== undefined; target = spares.shift()) {
        try {
          const push = streamed.get(target)
          streamed.delete(target)
          if (push !== undefined) await push.commit(entry)
          else await fromDisk(target)
          if (settled) this.o.copies.publish({ ...entry, holders: [target] })
          else copied.push(target)
          return
        } catch {
          if (s.aborted) return
        }
      }
    }
    // Each lane takes its target's stream before its first await, so what is left here by now is a
    // stream to a member placement no longer picks (membership moved since the fan began): abort it.
    const lanes = targets.map(lane)
    for (const p of streamed.values()) p.abort(new Error('no longer a replica of this write'))
    const live = this.o.durable.list()
    const need = Math.min(this.o.writeQuorum, this.o.replicas, Math.max(1, live.length))
    // A browser tab's own copy does not count: it may close at any moment.
    const own = live.includes(this.o.copies.self) ? 1 : 0
    const quorum = new Promise<void>(resolve => {
      const check = (): void => { if (own + copied.length >= need) resolve() }
      for (const l of lanes) void l.then(check)
    })
    const aborted = new Promise<void>(resolve => { signal?.addEventListener('abort', () => { resolve() }, { once: true }) })
    await Promise.race([quorum, Promise.all(lanes), aborted])
    settled = true
    return [...copied]
  }
}
