import { promisifyRequest, type UseStore } from 'idb-keyval'
import { plannedChecksum } from '../core/checksums.js'
import { isS3Error, S3Error } from '../core/errors.js'
import { toHex, type Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import { compareKeys } from '../core/key-order.js'
import { completedMetadata, multipartEtag, selectParts } from '../core/multipart.js'
import { lockForWrite, type VersionLock } from '../core/object-lock.js'
import type { CompletedPart, CompleteOptions, ObjectInfo, PartInfo, PartOptions, UploadInfo, UploadOptions, VersionAs, WriteCondition } from '../core/object-store.js'
import { throwIfAborted } from '../core/streams.js'
import { abandon, AFTER, bucket, get, partInfo, retire, upload, type ObjectRecord, type PartRecord, type StoredInfo, type UploadRecord } from './idb-records.js'
import { sweptWrite, transaction, type IdbChunks } from './idb-chunks.js'

/** What multipart uploads need of the IdbStore they belong to. */
export interface IdbMultipartDeps {
  db: UseStore
  chunks: IdbChunks
  hashes: Hashes
  /** Smallest part but the last (S3's 5 MiB unless given). */
  minPartSize?: number
  /** Points (bucket, key) at a completed upload's object, in transaction `s` (IdbStore's replaceObject). */
  replaceObject: (s: IDBObjectStore, bucketName: string, key: string, record: ObjectRecord, condition?: WriteCondition, named?: VersionAs, asked?: VersionLock) => Promise<ObjectInfo>
}

/**
 * An IdbStore's multipart uploads: an upload's record (`['u', bucket, id]`)
 * and its parts (`['p', id, number]`), each part's bytes written as a
 * version's chunks are; completing points the key at the parts' chunks in
 * order, without copying them.
 */
export class IdbMultipart {
  constructor (private readonly d: IdbMultipartDeps) {}

  async createMultipartUpload (bucketName: string, key: string, options: UploadOptions): Promise<string> {
    const uploadId = randomId()
    await this.tx('readwrite', async s => {
      const b = await bucket(s, bucketName)
      // Refused now, not at completion, in a bucket without object lock.
      if (options.lockAside !== true) lockForWrite(options.lock, b.objectLock, new Date())
      s.put({
        uploadId, key, initiated: Date.now(), metadata: options.metadata, tags: options.tags ?? {},
        ...(options.lock === undefined ? {} : { lock: options.lock }), ...(options.lockAside === true ? { lockAside: true as const } : {}),
        ...(options.acl === undefined ? {} : { acl: options.acl }),
      } satisfies UploadRecord, ['u', bucketName, uploadId])
    })
    return uploadId
  }

  async uploadPart (bucketName: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> {
    const record = await this.tx('readonly', async s => await upload(s, bucketName, key, uploadId))
    const planned = plannedChecksum(this.d.hashes, record.metadata.checksumPlan, body, options)
    const { segment, size, digests } = await this.d.chunks.write(planned.body, ['md5'], options.verified, options.size, options.signal)
    const checksum = planned.checksum?.()
    const part: PartRecord = { partNumber, etag: toHex(digests.md5!), size, lastModified: Date.now(), ...(checksum === undefined ? {} : { checksum }), segment }
    try {
      await this.tx('readwrite', async s => {
        await upload(s, bucketName, key, uploadId)
        const old = await get(s, ['p', uploadId, partNumber]) as PartRecord | undefined
        if (old !== undefined) retire(s, [old.segment])
        if (await get(s, ['w', segment.version]) === undefined) throw sweptWrite()
        s.put(part, ['p', uploadId, partNumber])
        s.delete(['w', segment.version])
      })
    } catch (err) {
      // The upload was completed or aborted meanwhile: the part's chunks go.
      await this.tx('readwrite', async s => { abandon(s, [segment]) }).catch(() => {})
      throw err
    }
    return partInfo(part)
  }

  async listParts (bucketName: string, key: string, uploadId: string): Promise<PartInfo[]> {
    const parts = await this.tx('readonly', async s => {
      await upload(s, bucketName, key, uploadId)
      return await promisifyRequest(s.getAll(IDBKeyRange.bound(['p', uploadId], ['p', uploadId, AFTER]))) as PartRecord[]
    })
    return parts.map(partInfo)
  }

  async listMultipartUploads (bucketName: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    const prefix = options.prefix ?? ''
    const uploads = await this.tx('readonly', async s => {
      await bucket(s, bucketName)
      return await promisifyRequest(s.getAll(IDBKeyRange.bound(['u', bucketName], ['u', bucketName, AFTER]))) as UploadRecord[]
    })
    return uploads.filter(u => u.key.startsWith(prefix))
      .map(u => ({ uploadId: u.uploadId, key: u.key, initiated: new Date(u.initiated) }))
      .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime())
  }

  async completeMultipartUpload (bucketName: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> {
    const partsOf = async (s: IDBObjectStore): Promise<PartRecord[]> => await promisifyRequest(s.getAll(IDBKeyRange.bound(['p', uploadId], ['p', uploadId, AFTER]))) as PartRecord[]
    const { record, stored } = await this.tx('readonly', async s => {
      const record = await upload(s, bucketName, key, uploadId)
      return { record, stored: await partsOf(s) }
    })
    const byNumber = new Map(stored.map(p => [p.partNumber, { ...partInfo(p), segment: p.segment }]))
    const chosen = selectParts(parts, byNumber, this.d.minPartSize)
    const metadata = await completedMetadata(this.d.hashes, record.metadata, chosen, options.checksum)
    const segments = chosen.map(p => byNumber.get(p.partNumber)!.segment)
    // The whole object's SHA-256, read back part by part (what the mesh verifies copies against).
    const sha = this.d.hashes.create('sha256')
    let size = 0
    // A part uploaded again while this runs replaces (and frees) the one read here: the list named the bytes
    // that were there when it was sent, so the completion is refused, as S3 refuses a part whose ETag differs.
    const replaced = (now: PartRecord[]): CompletedPart | undefined => {
      const current = new Map(now.map(p => [p.partNumber, p.segment.version]))
      return chosen.find(p => current.get(p.partNumber) !== byNumber.get(p.partNumber)!.segment.version)
    }
    const refuse = (part: CompletedPart): S3Error => new S3Error('InvalidPart', `Part ${part.partNumber} was uploaded again while the upload was being completed: complete it again with the part's new ETag.`)
    try {
      for (const segment of segments) {
        for (let i = 0; i < segment.chunks; i++) {
          throwIfAborted(options.signal)
          const chunk = await this.d.chunks.chunk(segment.version, i)
          sha.update(chunk)
          size += chunk.byteLength
        }
      }
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      // An upload aborted or completed meanwhile is NoSuchUpload (upload() throws it), not a part uploaded again.
      const part = await this.tx('readonly', async s => { await upload(s, bucketName, key, uploadId); return replaced(await partsOf(s)) })
        .catch((e: unknown) => { throw isS3Error(e, 'NoSuchUpload') ? e : err })
      throw part === undefined ? err : refuse(part)
    }
    const info: StoredInfo = {
      key, size, etag: multipartEtag(this.d.hashes, chosen), sha256: toHex(sha.digest()),
      lastModified: Date.now(), metadata, tags: record.tags, parts: chosen.length,
    }
    const kept = new Set(segments.map(s => s.version))
    return await this.tx('readwrite', async s => {
      await upload(s, bucketName, key, uploadId)
      const now = await partsOf(s)
      const part = replaced(now)
      if (part !== undefined) throw refuse(part)
      const aside = record.lockAside === true
      const shownInfo = await this.d.replaceObject(s, bucketName, key, { info, segments }, options.condition, options.versionAs, aside ? undefined : record.lock)
      // Parts not named in the list are dropped with the upload (as they are now: one uploaded again included).
      abandon(s, now.filter(p => !kept.has(p.segment.version)).map(p => p.segment))
      s.delete(IDBKeyRange.bound(['p', uploadId], ['p', uploadId, AFTER]))
      s.delete(['u', bucketName, uploadId])
      return { ...shownInfo, ...(aside && record.lock !== undefined ? { lock: record.lock } : {}), ...(record.acl === undefined ? {} : { uploadAcl: record.acl }) }
    })
  }

  async abortMultipartUpload (bucketName: string, key: string, uploadId: string): Promise<void> {
    await this.tx('readwrite', async s => {
      await upload(s, bucketName, key, uploadId)
      const parts = await promisifyRequest(s.getAll(IDBKeyRange.bound(['p', uploadId], ['p', uploadId, AFTER]))) as PartRecord[]
      abandon(s, parts.map(p => p.segment))
      s.delete(IDBKeyRange.bound(['p', uploadId], ['p', uploadId, AFTER]))
      s.delete(['u', bucketName, uploadId])
    })
  }

  /** Runs `fn` in one transaction of the store's database. */
  private async tx<T> (mode: IDBTransactionMode, fn: (s: IDBObjectStore) => Promise<T>): Promise<T> {
    return await transaction(this.d.db, mode, fn)
  }
}
