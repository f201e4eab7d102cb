/**
 * The ObjectStore compliance suite: every store implementation runs these same
 * cases: MemoryStore, DiskStore, MeshStore (a real node's), GatewayStore (the
 * edge's, against a real node) and IdbStore (in Chromium). It takes the test
 * runner's describe/it/skip so it runs under node:test and under
 * web-test-runner (mocha).
 */
import assert from 'node:assert/strict'
import { isS3Error, type S3ErrorCode } from '../../src/core/errors.js'
import { fromBase64, toBase64, toHex, webHashes } from '../../src/core/hashes.js'
import type { LifecycleRule } from '../../src/core/lifecycle.js'
import { objectTags, type ObjectInfo, type ObjectStore, type PartInfo, type VersionAs, type VersionOptions } from '../../src/core/object-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { stampAt } from '../../src/core/versioning.js'

/**
 * A version's tags as the S3 API reads them (`objectTags`), after checking
 * that its HEAD agrees: the tags, or (a store that counts them: a gateway)
 * their number and no tags.
 */
async function tagsOf (store: ObjectStore, bucket: string, key: string, options?: VersionOptions): Promise<Record<string, string>> {
  const { tags } = await objectTags(store, bucket, key, options)
  const head = await store.headObject(bucket, key, options)
  if (head.tagCount === undefined) assert.deepEqual(head.tags, tags)
  else assert.deepEqual([head.tagCount, head.tags], [Object.keys(tags).length, {}])
  return tags
}

export interface Runner {
  describe: (name: string, fn: () => void) => void
  it: (name: string, fn: () => Promise<void>) => void
  /** Registers a case reported as skipped, with the reason. */
  skip: (name: string, reason: string) => void
}

export interface StoreUnderTest {
  store: ObjectStore
  /** Reopens the same data as a new store instance (a restart). Required unless the suite is told why the store cannot. */
  reopen?: () => Promise<ObjectStore>
  cleanup: () => Promise<void>
}

export interface SuiteOptions {
  /** Why this store keeps nothing across a restart: the restart case is then reported skipped with this reason. */
  noRestart?: string
  /** Why this store keeps no copies of writes made elsewhere (copyOf, copyOfAtEnd): those cases are then skipped with this reason. */
  noCopies?: string
  /** Why this store keeps no versions yet (docs/plans/versioning.md says in which increment it will): the versioning cases are then skipped with this reason. */
  noVersions?: string
  /** Why this store cannot delete a version only while it is noncurrent or alone (DeleteOptions.onlyIf): that case is then skipped with this reason. */
  noDeleteConditions?: string
  /** Why this store keeps no object lock yet (docs/plans/object-lock.md says in which increment it will): the object lock cases are then skipped with this reason. */
  noObjectLock?: string
}

const enc = new TextEncoder()
const dec = new TextDecoder()
const bytes = (s: string): Uint8Array => enc.encode(s)
const meta = { user: {} }

export async function readStream (s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) chunks.push(c)
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.length }
  return out
}

async function rejects (p: Promise<unknown>, code: S3ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isS3Error(err), `expected S3Error ${code}, got ${String(err)}`)
    assert.equal(err.code, code)
    return true
  })
}

async function getText (store: ObjectStore, bucket: string, key: string): Promise<string> {
  const h = await store.openObject(bucket, key)
  return dec.decode(await readStream(h.stream()))
}

function put (store: ObjectStore, bucket: string, key: string, body: string | Uint8Array, extra: Partial<Parameters<ObjectStore['putObject']>[3]> = {}): ReturnType<ObjectStore['putObject']> {
  return store.putObject(bucket, key, streamOfBytes(typeof body === 'string' ? bytes(body) : body, 7), { metadata: meta, ...extra })
}

/** A stream that yields `good` and then fails, like a client that disconnects mid-upload. */
function failingStream (good: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false
  return new ReadableStream({
    pull (c) {
      if (!sent) { sent = true; c.enqueue(good); return }
      c.error(new Error('client went away'))
    },
  })
}

export function objectStoreSuite (name: string, make: () => Promise<StoreUnderTest>, { describe, it, skip }: Runner, options: SuiteOptions = {}): void {
  describe(`ObjectStore compliance: ${name}`, () => {
    const withStore = (title: string, fn: (s: StoreUnderTest) => Promise<void>): void => {
      it(title, async () => {
        const s = await make()
        try { await fn(s) } finally { await s.cleanup() }
      })
    }

    withStore('creates, lists, heads and deletes buckets', async ({ store }) => {
      await store.createBucket('zeta')
      await store.createBucket('alpha')
      await rejects(store.createBucket('alpha'), 'BucketAlreadyOwnedByYou')
      assert.deepEqual((await store.listBuckets()).map(b => b.name), ['alpha', 'zeta'])
      const info = await store.headBucket('alpha')
      assert.equal(info.name, 'alpha')
      assert.ok(info.created instanceof Date && Math.abs(info.created.getTime() - Date.now()) < 60_000)
      await rejects(store.headBucket('missing'), 'NoSuchBucket')
      await store.deleteBucket('zeta')
      await rejects(store.headBucket('zeta'), 'NoSuchBucket')
      await rejects(store.deleteBucket('zeta'), 'NoSuchBucket')
    })

    withStore('refuses to delete a bucket with objects or uploads', async ({ store }) => {
      await store.createBucket('bk1')
      await put(store, 'bk1', 'k', 'x')
      await rejects(store.deleteBucket('bk1'), 'BucketNotEmpty')
      await store.deleteObject('bk1', 'k')
      const id = await store.createMultipartUpload('bk1', 'k', { metadata: meta })
      await rejects(store.deleteBucket('bk1'), 'BucketNotEmpty')
      await store.abortMultipartUpload('bk1', 'k', id)
      await store.deleteBucket('bk1')
    })

    withStore('keeps CORS rules on the bucket', async ({ store }) => {
      await store.createBucket('web')
      const rules = [{ allowedOrigins: ['https://app.example'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['*'], exposeHeaders: ['ETag'], maxAgeSeconds: 600 }]
      await store.setBucketCors('web', rules)
      assert.deepEqual((await store.headBucket('web')).cors, rules)
      await store.setBucketCors('web', undefined)
      assert.equal((await store.headBucket('web')).cors, undefined)
    })

    withStore('stores bytes, MD5 ETag, SHA-256, metadata and tags', async ({ store }) => {
      await store.createBucket('bkt')
      const metadata = { contentType: 'text/plain', cacheControl: 'max-age=60', contentDisposition: 'inline', user: { color: 'blue' } }
      const info = await put(store, 'bkt', 'hello.txt', 'hello', { metadata, tags: { project: 'x' } })
      assert.equal(info.etag, '5d41402abc4b2a76b9719d911017c592')
      assert.equal(info.sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')
      assert.equal(info.size, 5)
      const head = await store.headObject('bkt', 'hello.txt')
      assert.equal(head.etag, info.etag)
      assert.equal(head.sha256, info.sha256)
      assert.deepEqual(head.metadata, metadata)
      assert.deepEqual(await tagsOf(store, 'bkt', 'hello.txt'), { project: 'x' })
      assert.equal(await getText(store, 'bkt', 'hello.txt'), 'hello')
    })

    withStore('streams byte ranges', async ({ store }) => {
      await store.createBucket('bkt')
      await put(store, 'bkt', 'digits', '0123456789')
      const h = await store.openObject('bkt', 'digits')
      assert.equal(dec.decode(await readStream(h.stream({ start: 2, end: 5 }))), '2345')
      const h2 = await store.openObject('bkt', 'digits')
      assert.equal(dec.decode(await readStream(h2.stream({ start: 9, end: 9 }))), '9')
      const h3 = await store.openObject('bkt', 'digits')
      await h3.close()
      await h3.close()
    })

    withStore('overwrites, deletes and reports missing keys and buckets', async ({ store }) => {
      await store.createBucket('bkt')
      await put(store, 'bkt', 'k', 'one')
      await put(store, 'bkt', 'k', 'second')
      assert.equal(await getText(store, 'bkt', 'k'), 'second')
      assert.equal((await store.headObject('bkt', 'k')).size, 6)
      await store.deleteObject('bkt', 'k')
      await rejects(store.headObject('bkt', 'k'), 'NoSuchKey')
      await rejects(store.openObject('bkt', 'k'), 'NoSuchKey')
      await store.deleteObject('bkt', 'k')
      await rejects(store.deleteObject('nobucket', 'k'), 'NoSuchBucket')
      await rejects(put(store, 'nobucket', 'k', 'x'), 'NoSuchBucket')
      assert.deepEqual((await store.listObjects('bkt', { limit: 10 })).objects, [])
    })

    withStore('a failed or short upload leaves the old object untouched', async ({ store }) => {
      await store.createBucket('bkt')
      await put(store, 'bkt', 'k', 'original')
      await assert.rejects(store.putObject('bkt', 'k', failingStream(bytes('partial')), { metadata: meta }))
      await rejects(put(store, 'bkt', 'k', 'short', { size: 100 }), 'IncompleteBody')
      await rejects(put(store, 'bkt', 'k', 'toolong', { size: 3 }), 'IncompleteBody')
      const ac = new AbortController()
      ac.abort()
      await assert.rejects(put(store, 'bkt', 'k', 'aborted', { signal: ac.signal }))
      assert.equal(await getText(store, 'bkt', 'k'), 'original')
      await assert.rejects(store.putObject('bkt', 'new', failingStream(bytes('partial')), { metadata: meta }))
      await rejects(store.headObject('bkt', 'new'), 'NoSuchKey')
      assert.deepEqual((await store.listObjects('bkt', { limit: 10 })).objects.map(o => o.key), ['k'])
    })

    withStore('keeps a key and keys below it apart (a, a/b, dir/, a//b, long names)', async ({ store }) => {
      await store.createBucket('bkt')
      const long = 'L'.repeat(600)
      const keys = ['a', 'a/b', 'a/b/c', 'dir/', 'dir/x', 'a//b', '/lead', long, `deep/${long}/x`, 'sp ace+%25?#', 'ünï/çødé']
      for (const k of keys) await put(store, 'bkt', k, `body of ${k}`)
      for (const k of keys) assert.equal(await getText(store, 'bkt', k), `body of ${k}`, k)
      await store.deleteObject('bkt', 'a')
      assert.equal(await getText(store, 'bkt', 'a/b'), 'body of a/b')
      await put(store, 'bkt', 'a', 'again')
      assert.equal(await getText(store, 'bkt', 'a'), 'again')
      await store.deleteObject('bkt', 'a/b/c')
      await store.deleteObject('bkt', 'a/b')
      assert.equal(await getText(store, 'bkt', 'a'), 'again')
      await rejects(store.headObject('bkt', 'a/b'), 'NoSuchKey')
    })

    withStore('lists in UTF-8 byte order with prefix, start-after and limit', async ({ store }) => {
      await store.createBucket('bkt')
      // UTF-16 order would put the astral 😀 (U+1F600) before U+FF21; UTF-8 order puts it after.
      const keys = ['a-c', 'a/b', 'a', 'b', 'ab', '\uFF21', '😀', 'a/a', 'a/c/d']
      for (const k of keys) await put(store, 'bkt', k, 'x')
      const all = (await store.listObjects('bkt', { limit: 1000 })).objects.map(o => o.key)
      assert.deepEqual(all, ['a', 'a-c', 'a/a', 'a/b', 'a/c/d', 'ab', 'b', '\uFF21', '😀'])
      const p = await store.listObjects('bkt', { prefix: 'a/', limit: 2 })
      assert.deepEqual(p.objects.map(o => o.key), ['a/a', 'a/b'])
      assert.equal(p.isTruncated, true)
      const q = await store.listObjects('bkt', { prefix: 'a/', startAfter: 'a/b', limit: 2 })
      assert.deepEqual(q.objects.map(o => o.key), ['a/c/d'])
      assert.equal(q.isTruncated, false)
      const r = await store.listObjects('bkt', { startAfter: 'b', limit: 10 })
      assert.deepEqual(r.objects.map(o => o.key), ['\uFF21', '😀'])
      const first = p.objects[0]!
      assert.equal(first.size, 1)
      assert.equal(first.etag, '9dd4e461268c8034f5c8564e155c67a6')
      assert.ok(first.lastModified instanceof Date)
    })

    withStore('replaces tags', async ({ store }) => {
      await store.createBucket('bkt')
      await put(store, 'bkt', 'k', 'x', { tags: { a: '1' } })
      await store.setObjectTags('bkt', 'k', { b: '2', c: '3' })
      assert.deepEqual(await tagsOf(store, 'bkt', 'k'), { b: '2', c: '3' })
      assert.equal(await getText(store, 'bkt', 'k'), 'x')
      await rejects(store.setObjectTags('bkt', 'nope', {}), 'NoSuchKey')
    })

    withStore('multipart: uploads, lists and completes parts into one object', async ({ store }) => {
      await store.createBucket('bkt')
      const part1 = new Uint8Array(5 * 1024 * 1024).fill(97)
      const id = await store.createMultipartUpload('bkt', 'big', { metadata: { contentType: 'application/x-test', user: { k: 'v' } }, tags: { t: '1' } })
      const p1 = await store.uploadPart('bkt', 'big', id, 1, streamOfBytes(part1))
      const p2 = await store.uploadPart('bkt', 'big', id, 2, streamOfBytes(bytes('tail')))
      // Re-uploading a part number replaces it.
      const p2b = await store.uploadPart('bkt', 'big', id, 2, streamOfBytes(bytes('TAIL!')))
      assert.notEqual(p2.etag, p2b.etag)
      const parts = await store.listParts('bkt', 'big', id)
      assert.deepEqual(parts.map(p => [p.partNumber, p.size, p.etag]), [[1, part1.length, p1.etag], [2, 5, p2b.etag]])
      assert.deepEqual((await store.listMultipartUploads('bkt')).map(u => [u.key, u.uploadId]), [['big', id]])
      await rejects(store.headObject('bkt', 'big'), 'NoSuchKey')
      const info = await store.completeMultipartUpload('bkt', 'big', id, [{ partNumber: 1, etag: `"${p1.etag}"` }, { partNumber: 2, etag: p2b.etag }])
      assert.match(info.etag, /^[0-9a-f]{32}-2$/)
      assert.equal(info.size, part1.length + 5)
      assert.equal(info.parts, 2)
      const head = await store.headObject('bkt', 'big')
      assert.equal(head.etag, info.etag)
      assert.equal(head.metadata.contentType, 'application/x-test')
      assert.deepEqual(await tagsOf(store, 'bkt', 'big'), { t: '1' })
      const h = await store.openObject('bkt', 'big')
      assert.equal(dec.decode(await readStream(h.stream({ start: part1.length - 2, end: part1.length + 4 }))), 'aaTAIL!')
      await rejects(store.listParts('bkt', 'big', id), 'NoSuchUpload')
      assert.deepEqual(await store.listMultipartUploads('bkt'), [])
    })

    withStore('multipart: parts are listed while they are uploaded again, and an upload completed meanwhile is NoSuchUpload', async ({ store }) => {
      await store.createBucket('bkt')
      const id = await store.createMultipartUpload('bkt', 'k', { metadata: meta })
      let last = await store.uploadPart('bkt', 'k', id, 1, streamOfBytes(bytes('part 0')))
      for (let i = 1; i <= 40; i++) {
        // Listings one after another for as long as the part is being uploaded again.
        let uploading = true
        const listed: PartInfo[][] = []
        const lister = async (): Promise<void> => { do listed.push(await store.listParts('bkt', 'k', id)); while (uploading) }
        const listers = Promise.all([lister(), lister()])
        const part = await store.uploadPart('bkt', 'k', id, 1, streamOfBytes(bytes(`part ${i}`))).finally(() => { uploading = false })
        await listers
        // Each listing saw part 1 once, as uploaded before or after this round's upload.
        for (const parts of listed) {
          assert.deepEqual(parts.map(p => p.partNumber), [1])
          assert.ok([last.etag, part.etag].includes(parts[0]!.etag))
        }
        last = part
      }
      const [listed] = await Promise.allSettled([store.listParts('bkt', 'k', id), store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 1, etag: last.etag }])])
      if (listed.status === 'rejected') assert.ok(isS3Error(listed.reason, 'NoSuchUpload'), String(listed.reason))
      assert.equal(await getText(store, 'bkt', 'k'), 'part 40')
    })

    withStore('multipart: refuses bad part lists and finished uploads', async ({ store }) => {
      await store.createBucket('bkt')
      const id = await store.createMultipartUpload('bkt', 'k', { metadata: meta })
      const p1 = await store.uploadPart('bkt', 'k', id, 1, streamOfBytes(bytes('small')))
      const p2 = await store.uploadPart('bkt', 'k', id, 2, streamOfBytes(bytes('also small')))
      await rejects(store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 2, etag: p2.etag }, { partNumber: 1, etag: p1.etag }]), 'InvalidPartOrder')
      await rejects(store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 1, etag: p1.etag }, { partNumber: 3, etag: p2.etag }]), 'InvalidPart')
      await rejects(store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 1, etag: p2.etag }]), 'InvalidPart')
      await rejects(store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }]), 'EntityTooSmall')
      await rejects(store.uploadPart('bkt', 'other-key', id, 1, streamOfBytes(bytes('x'))), 'NoSuchUpload')
      await rejects(store.listParts('bkt', 'k', 'no-such-upload'), 'NoSuchUpload')
      // A single small part is a valid (last) part.
      const info = await store.completeMultipartUpload('bkt', 'k', id, [{ partNumber: 2, etag: p2.etag }])
      assert.equal(await getText(store, 'bkt', 'k'), 'also small')
      assert.match(info.etag, /-1$/)
      await rejects(store.abortMultipartUpload('bkt', 'k', id), 'NoSuchUpload')
      const id2 = await store.createMultipartUpload('bkt', 'k', { metadata: meta })
      await store.uploadPart('bkt', 'k', id2, 1, streamOfBytes(bytes('x')))
      await store.abortMultipartUpload('bkt', 'k', id2)
      await rejects(store.uploadPart('bkt', 'k', id2, 2, streamOfBytes(bytes('x'))), 'NoSuchUpload')
      assert.equal(await getText(store, 'bkt', 'k'), 'also small')
    })

    withStore('concurrent writes to one key leave one whole, consistent object', async ({ store }) => {
      await store.createBucket('bkt')
      const bodies = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000 + i))
      await Promise.all(bodies.map(b => put(store, 'bkt', 'hot', b)))
      const h = await store.openObject('bkt', 'hot')
      const text = dec.decode(await readStream(h.stream()))
      assert.ok(bodies.includes(text))
      assert.equal(h.info.size, text.length)
      const again = await store.headObject('bkt', 'hot')
      assert.equal(again.size, text.length)
    })

    withStore('conditional writes: If-None-Match: * creates once, If-Match writes over the ETag it names, and a refused write stores nothing', async ({ store }) => {
      await store.createBucket('cond')
      const first = await put(store, 'cond', 'k', 'first', { condition: { ifNoneMatch: '*' } })
      await rejects(put(store, 'cond', 'k', 'second', { condition: { ifNoneMatch: '*' } }), 'PreconditionFailed')
      assert.equal(await getText(store, 'cond', 'k'), 'first')
      await rejects(put(store, 'cond', 'k', 'stale', { condition: { ifMatch: '0123456789abcdef0123456789abcdef' } }), 'PreconditionFailed')
      const second = await put(store, 'cond', 'k', 'second', { condition: { ifMatch: first.etag } })
      await rejects(put(store, 'cond', 'k', 'third', { condition: { ifMatch: first.etag } }), 'PreconditionFailed')
      assert.equal((await store.headObject('cond', 'k')).etag, second.etag)
      await rejects(put(store, 'cond', 'none', 'x', { condition: { ifMatch: first.etag } }), 'NoSuchKey')
      await rejects(store.headObject('cond', 'none'), 'NoSuchKey')
      // Deleted, the key may be created again.
      await store.deleteObject('cond', 'k')
      await put(store, 'cond', 'k', 'again', { condition: { ifNoneMatch: '*' } })
      assert.equal(await getText(store, 'cond', 'k'), 'again')
    })

    withStore('conditional writes: a multipart completion refused by its condition leaves its upload, which completes without it', async ({ store }) => {
      await store.createBucket('cond')
      await put(store, 'cond', 'mp', 'there')
      const id = await store.createMultipartUpload('cond', 'mp', { metadata: meta })
      const p1 = await store.uploadPart('cond', 'mp', id, 1, streamOfBytes(bytes('parts')))
      await rejects(store.completeMultipartUpload('cond', 'mp', id, [{ partNumber: 1, etag: p1.etag }], { condition: { ifNoneMatch: '*' } }), 'PreconditionFailed')
      assert.equal(await getText(store, 'cond', 'mp'), 'there')
      assert.equal((await store.listParts('cond', 'mp', id)).length, 1)
      const etag = (await store.headObject('cond', 'mp')).etag
      await store.completeMultipartUpload('cond', 'mp', id, [{ partNumber: 1, etag: p1.etag }], { condition: { ifMatch: etag } })
      assert.equal(await getText(store, 'cond', 'mp'), 'parts')
    })

    withStore('conditional deletes: If-Match deletes only the object with the ETag it names (any object, for *), and a refused one deletes nothing', async ({ store }) => {
      await store.createBucket('cdel')
      const first = await put(store, 'cdel', 'k', 'first')
      await rejects(store.deleteObject('cdel', 'k', { ifMatch: '0123456789abcdef0123456789abcdef' }), 'PreconditionFailed')
      assert.equal(await getText(store, 'cdel', 'k'), 'first', 'a refused delete deletes nothing')
      await rejects(store.deleteObject('cdel', 'none', { ifMatch: '*' }), 'NoSuchKey')
      await store.deleteObject('cdel', 'k', { ifMatch: first.etag })
      await rejects(store.headObject('cdel', 'k'), 'NoSuchKey')
      await rejects(store.deleteObject('cdel', 'k', { ifMatch: first.etag }), 'NoSuchKey')
      // Written again: its new ETag is the one a delete must name; * names any object.
      const second = await put(store, 'cdel', 'k', 'second')
      await rejects(store.deleteObject('cdel', 'k', { ifMatch: first.etag }), 'PreconditionFailed')
      await store.deleteObject('cdel', 'k', { ifMatch: '*' })
      await rejects(store.headObject('cdel', 'k'), 'NoSuchKey')
      // If-Match: * on a write takes any object too.
      await rejects(put(store, 'cdel', 'k', 'third', { condition: { ifMatch: '*' } }), 'NoSuchKey')
      await put(store, 'cdel', 'k', 'third')
      const fourth = await put(store, 'cdel', 'k', 'fourth', { condition: { ifMatch: '*' } })
      assert.notEqual(fourth.etag, second.etag)
      assert.equal(await getText(store, 'cdel', 'k'), 'fourth')
    })

    withStore('keeps a write\'s checksum, and a multipart object\'s made from its parts\' with its part sizes', async ({ store }) => {
      await store.createBucket('sums')
      const crc = (data: Uint8Array): string => {
        const h = webHashes.create('crc32')
        h.update(data)
        return toBase64(h.digest())
      }
      const one = bytes('checked bytes')
      await put(store, 'sums', 'one', one, { checksum: () => ({ algorithm: 'CRC32', value: crc(one) }) })
      assert.deepEqual((await store.headObject('sums', 'one')).metadata.checksum, { algorithm: 'CRC32', value: crc(one), type: 'FULL_OBJECT' })
      assert.deepEqual((await store.openObject('sums', 'one')).info.metadata.checksum?.value, crc(one))
      await put(store, 'sums', 'plain', 'no checksum')
      assert.equal((await store.headObject('sums', 'plain')).metadata.checksum, undefined)

      const part1 = new Uint8Array(5 * 1024 * 1024).fill(98)
      const part2 = bytes('the tail')
      const id = await store.createMultipartUpload('sums', 'multi', { metadata: { user: {}, checksumPlan: { algorithm: 'CRC32', type: 'COMPOSITE' } } })
      const p1 = await store.uploadPart('sums', 'multi', id, 1, streamOfBytes(part1), { checksum: () => ({ algorithm: 'CRC32', value: crc(part1) }) })
      const p2 = await store.uploadPart('sums', 'multi', id, 2, streamOfBytes(part2), { checksum: () => ({ algorithm: 'CRC32', value: crc(part2) }) })
      assert.deepEqual(p1.checksum, { algorithm: 'CRC32', value: crc(part1) })
      assert.deepEqual((await store.listParts('sums', 'multi', id)).map(p => p.checksum?.value), [crc(part1), crc(part2)])
      const named = [{ partNumber: 1, etag: p1.etag, checksum: { algorithm: 'CRC32' as const, value: crc(part2) } }, { partNumber: 2, etag: p2.etag }]
      await rejects(store.completeMultipartUpload('sums', 'multi', id, named), 'InvalidPart')
      await store.completeMultipartUpload('sums', 'multi', id, [{ partNumber: 1, etag: p1.etag, checksum: p1.checksum! }, { partNumber: 2, etag: p2.etag }])
      const both = new Uint8Array(8)
      both.set(fromBase64(crc(part1))!, 0)
      both.set(fromBase64(crc(part2))!, 4)
      const head = await store.headObject('sums', 'multi')
      assert.deepEqual(head.metadata.checksum, { algorithm: 'CRC32', value: `${crc(both)}-2`, type: 'COMPOSITE' })
      assert.deepEqual(head.metadata.partSizes, [[part1.length, 1], [part2.length, 1]])
      assert.equal(head.metadata.checksumPlan, undefined, 'the plan was the upload\'s')
      // A part sent without the upload's checksum (a copied part) gets it from its bytes.
      const planned = await store.createMultipartUpload('sums', 'bare', { metadata: { user: {}, checksumPlan: { algorithm: 'CRC32', type: 'FULL_OBJECT' } } })
      const bare = await store.uploadPart('sums', 'bare', planned, 1, streamOfBytes(part2))
      assert.deepEqual(bare.checksum, { algorithm: 'CRC32', value: crc(part2) })
      // A part of another algorithm is refused as it comes, not at the completion.
      const sha = webHashes.create('sha256')
      sha.update(part2)
      const sha256 = toBase64(sha.digest())
      await rejects(store.uploadPart('sums', 'bare', planned, 2, streamOfBytes(part2), { checksumAlgorithm: 'SHA256', checksum: () => ({ algorithm: 'SHA256', value: sha256 }) }), 'InvalidRequest')
      assert.deepEqual((await store.listParts('sums', 'bare', planned)).map(p => p.partNumber), [1], 'and not kept')
    })

    withStore('keeps a bucket\'s lifecycle rules beside its CORS rules, each set and removed without the other', async ({ store }) => {
      await store.createBucket('life')
      const rules: LifecycleRule[] = [
        { id: 'logs', enabled: true, filter: { prefix: 'logs/', tags: { a: 'b' }, sizeGreaterThan: 1 }, expiration: { days: 3 } },
        { enabled: false, filter: {}, expiration: { date: '2027-01-01T00:00:00.000Z' }, abortIncompleteMultipartUpload: { daysAfterInitiation: 2 } },
      ]
      const cors = [{ allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [] }]
      await store.setBucketLifecycle('life', rules)
      await store.setBucketCors('life', cors)
      const both = await store.headBucket('life')
      assert.deepEqual([both.lifecycle, both.cors], [rules, cors])
      await store.setBucketLifecycle('life', undefined)
      const corsOnly = await store.headBucket('life')
      assert.deepEqual([corsOnly.lifecycle, corsOnly.cors], [undefined, cors])
      await store.setBucketLifecycle('life', rules.slice(0, 1))
      await store.setBucketCors('life', undefined)
      const rulesOnly = await store.headBucket('life')
      assert.deepEqual([rulesOnly.lifecycle, rulesOnly.cors], [rules.slice(0, 1), undefined])
      await rejects(store.setBucketLifecycle('no-such-bucket', rules), 'NoSuchBucket')
    })

    const copies = (title: string, fn: (s: StoreUnderTest) => Promise<void>): void => {
      if (options.noCopies !== undefined) skip(title, options.noCopies)
      else withStore(title, fn)
    }

    copies('stores a copy of a write made elsewhere with that write\'s ETag, time and part count', async ({ store }) => {
      await store.createBucket('cp')
      const lastModified = new Date('2026-01-02T03:04:05.000Z')
      const info = await put(store, 'cp', 'k', 'copied bytes', { copyOf: { etag: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2', lastModified, parts: 2 } })
      assert.equal(info.etag, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2')
      const head = await store.headObject('cp', 'k')
      assert.deepEqual([head.etag, head.lastModified.getTime(), head.parts], ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2', lastModified.getTime(), 2])
      const sha256 = webHashes.create('sha256')
      sha256.update(bytes('copied bytes'))
      assert.equal(head.sha256, toHex(sha256.digest()), 'the SHA-256 is the bytes\'')
      assert.equal(await getText(store, 'cp', 'k'), 'copied bytes')
    })

    copies('stores a copy whose identity is known only at the end of its bytes (copyOfAtEnd); a body that fails first leaves the old object', async ({ store }) => {
      await store.createBucket('cp')
      await put(store, 'cp', 'k', 'the old one')
      const lastModified = new Date('2026-01-02T03:04:05.000Z')
      let asked = false
      const identity = { etag: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', lastModified, sha256: 'c'.repeat(64) }
      const info = await put(store, 'cp', 'k', 'arrived bytes', { copyOfAtEnd: () => { asked = true; return identity } })
      assert.ok(asked)
      assert.deepEqual([info.etag, info.sha256, info.lastModified.getTime()], [identity.etag, identity.sha256, lastModified.getTime()])
      const head = await store.headObject('cp', 'k')
      assert.deepEqual([head.etag, head.sha256, head.lastModified.getTime()], [identity.etag, identity.sha256, lastModified.getTime()])
      assert.equal(await getText(store, 'cp', 'k'), 'arrived bytes')
      await assert.rejects(store.putObject('cp', 'k', failingStream(bytes('half')), { metadata: meta, copyOfAtEnd: () => identity }))
      assert.equal(await getText(store, 'cp', 'k'), 'arrived bytes')
      // The identity may come later than the bytes (a replica waits for the writer's version), and may fail: nothing is stored then.
      const later = await put(store, 'cp', 'k2', 'waited for', { copyOfAtEnd: async () => { await new Promise(resolve => setTimeout(resolve, 20)); return identity } })
      assert.equal(later.etag, identity.etag)
      assert.equal(await getText(store, 'cp', 'k2'), 'waited for')
      await assert.rejects(store.putObject('cp', 'k', streamOfBytes(bytes('not the writer\'s')), { metadata: meta, copyOfAtEnd: async () => { throw new Error('the bytes are not the version\'s') } }), /not the version's/)
      assert.equal(await getText(store, 'cp', 'k'), 'arrived bytes')
    })

    // ---- versioning (core/versioning.ts): a store that keeps versions ----
    const versioned = (title: string, fn: (store: ObjectStore & Required<Pick<ObjectStore, 'setBucketVersioning' | 'listObjectVersions'>>) => Promise<void>): void => {
      if (options.noVersions !== undefined) { skip(title, options.noVersions); return }
      withStore(title, async ({ store }) => {
        assert.ok(store.setBucketVersioning !== undefined && store.listObjectVersions !== undefined, 'a store that keeps versions implements setBucketVersioning and listObjectVersions; one that does not says why in the suite\'s options')
        await fn(store as ObjectStore & Required<Pick<ObjectStore, 'setBucketVersioning' | 'listObjectVersions'>>)
      })
    }
    const versionsOf = async (store: ObjectStore & Required<Pick<ObjectStore, 'listObjectVersions'>>, bucket: string, options: { prefix?: string, keyMarker?: string, versionIdMarker?: string, limit?: number } = {}): Promise<string[]> =>
      (await store.listObjectVersions(bucket, { limit: 1000, ...options })).versions.map(v => `${v.key}:${v.deleteMarker ? 'marker' : v.size!}${v.isLatest ? ':latest' : ''}`)

    versioned('keeps every version of a key while versioning is enabled, newest first', async store => {
      await store.createBucket('ver')
      const before = await put(store, 'ver', 'k', 'before')
      assert.equal(before.versionId, undefined, 'a bucket never versioned shows no version ids')
      await store.setBucketVersioning('ver', 'Enabled')
      assert.equal((await store.headBucket('ver')).versioning, 'Enabled')
      assert.equal((await store.headObject('ver', 'k')).versionId, 'null', 'what was there before is the null version')
      const v1 = await put(store, 'ver', 'k', 'one!')
      const v2 = await put(store, 'ver', 'k', 'two')
      assert.ok(v1.versionId !== undefined && v2.versionId !== undefined && v1.versionId !== v2.versionId && v1.versionId !== 'null')
      assert.equal(await getText(store, 'ver', 'k'), 'two')
      const read = async (versionId: string): Promise<string> => dec.decode(await readStream((await store.openObject('ver', 'k', { versionId })).stream()))
      assert.equal(await read(v1.versionId), 'one!')
      assert.equal(await read('null'), 'before')
      assert.equal((await store.headObject('ver', 'k', { versionId: v1.versionId })).size, 4)
      assert.deepEqual(await versionsOf(store, 'ver'), ['k:3:latest', 'k:4', 'k:6'])
      assert.deepEqual((await store.listObjectVersions('ver', { limit: 10 })).versions.map(v => v.versionId), [v2.versionId, v1.versionId, 'null'])
      await rejects(store.openObject('ver', 'k', { versionId: 'nosuchversion' }), 'NoSuchVersion')
      // Tags belong to one version.
      await store.setObjectTags('ver', 'k', { t: '1' }, { versionId: v1.versionId })
      assert.deepEqual(await tagsOf(store, 'ver', 'k', { versionId: v1.versionId }), { t: '1' })
      assert.deepEqual(await tagsOf(store, 'ver', 'k'), {})
    })

    versioned('a delete leaves a marker; deleting the marker or the newest version brings the one before back', async store => {
      await store.createBucket('del')
      await store.setBucketVersioning('del', 'Enabled')
      const v1 = await put(store, 'del', 'k', 'one')
      const removed = await store.deleteObject('del', 'k')
      assert.ok(removed !== undefined && removed.deleteMarker === true && removed.versionId !== undefined && removed.versionId !== v1.versionId)
      await assert.rejects(store.headObject('del', 'k'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true' && err.headers['x-amz-version-id'] === removed.versionId)
      await assert.rejects(store.headObject('del', 'k', { versionId: removed.versionId }), (err: unknown) => isS3Error(err, 'MethodNotAllowed') && err.headers?.['x-amz-delete-marker'] === 'true')
      assert.deepEqual((await store.listObjects('del', { limit: 10 })).objects, [], 'a key behind a marker is not listed')
      await rejects(store.deleteBucket('del'), 'BucketNotEmpty')
      assert.deepEqual(await versionsOf(store, 'del'), ['k:marker:latest', 'k:3'])
      assert.deepEqual(await store.deleteObject('del', 'k', { versionId: removed.versionId }), { versionId: removed.versionId, deleteMarker: true })
      assert.equal(await getText(store, 'del', 'k'), 'one')
      const v2 = await put(store, 'del', 'k', 'two!')
      assert.deepEqual(await store.deleteObject('del', 'k', { versionId: v2.versionId }), { versionId: v2.versionId })
      assert.equal((await store.headObject('del', 'k')).versionId, v1.versionId, 'deleting the current version makes the one before current')
      await store.deleteObject('del', 'k', { versionId: v1.versionId })
      assert.deepEqual(await versionsOf(store, 'del'), [])
      await store.deleteBucket('del')
    })

    versioned('a conditional delete is checked against the current version: it makes a marker, and a marker is no object (404)', async store => {
      await store.createBucket('cvd')
      await store.setBucketVersioning('cvd', 'Enabled')
      const v1 = await put(store, 'cvd', 'k', 'one')
      const v2 = await put(store, 'cvd', 'k', 'two!')
      await rejects(store.deleteObject('cvd', 'k', { ifMatch: v1.etag }), 'PreconditionFailed')
      assert.deepEqual(await versionsOf(store, 'cvd'), ['k:4:latest', 'k:3'], 'a refused delete makes no marker')
      const marked = await store.deleteObject('cvd', 'k', { ifMatch: v2.etag })
      assert.ok(marked !== undefined && marked.deleteMarker === true)
      await rejects(store.deleteObject('cvd', 'k', { ifMatch: '*' }), 'NoSuchKey')
      assert.deepEqual(await versionsOf(store, 'cvd'), ['k:marker:latest', 'k:4', 'k:3'], 'one marker, the versions kept')
      await store.deleteObject('cvd', 'k', { versionId: marked.versionId })
      await store.deleteObject('cvd', 'k', { ifMatch: '*' })
      assert.deepEqual(await versionsOf(store, 'cvd'), ['k:marker:latest', 'k:4', 'k:3'])
    })

    const conditional = (title: string, fn: Parameters<typeof versioned>[1]): void => {
      if (options.noDeleteConditions !== undefined) { skip(title, options.noDeleteConditions); return }
      versioned(title, fn)
    }
    conditional('a delete by id with onlyIf keeps a version that became current, or gained a successor, since it was listed', async store => {
      await store.createBucket('cond')
      await store.setBucketVersioning('cond', 'Enabled')
      const v1 = await put(store, 'cond', 'k', 'one')
      const v2 = await put(store, 'cond', 'k', 'two!')
      assert.deepEqual(await store.deleteObject('cond', 'k', { versionId: v2.versionId, onlyIf: 'alone' }), { versionId: v2.versionId, kept: true }, 'a version with another is not alone')
      // As the lifecycle runner would find it, having listed v1 as noncurrent: v2 deleted by id since, v1 is current.
      await store.deleteObject('cond', 'k', { versionId: v2.versionId })
      assert.deepEqual(await store.deleteObject('cond', 'k', { versionId: v1.versionId, onlyIf: 'noncurrent' }), { versionId: v1.versionId, kept: true }, 'the current version is not noncurrent')
      assert.deepEqual(await versionsOf(store, 'cond'), ['k:3:latest'], 'nothing deleted')
      await put(store, 'cond', 'k', 'three')
      assert.deepEqual(await store.deleteObject('cond', 'k', { versionId: v1.versionId, onlyIf: 'noncurrent' }), { versionId: v1.versionId })
      assert.deepEqual(await versionsOf(store, 'cond'), ['k:5:latest'])
      // A marker alone goes; one with a version behind it stays.
      const lone = await store.deleteObject('cond', 'm')
      const over = await store.deleteObject('cond', 'k')
      assert.equal((await store.deleteObject('cond', 'k', { versionId: over!.versionId!, onlyIf: 'alone' }))?.kept, true)
      assert.deepEqual(await store.deleteObject('cond', 'm', { versionId: lone!.versionId!, onlyIf: 'alone' }), { versionId: lone!.versionId!, deleteMarker: true })
      assert.deepEqual(await versionsOf(store, 'cond'), ['k:marker:latest', 'k:5'])
    })

    const named = (title: string, fn: Parameters<typeof versioned>[1]): void => {
      if (options.noCopies !== undefined) { skip(title, options.noCopies); return }
      versioned(title, fn)
    }
    named('keeps a version named elsewhere (a mesh copy) under its id, in its place by its stamp', async store => {
      await store.createBucket('named')
      await store.setBucketVersioning('named', 'Enabled')
      const t = Date.now()
      const as = (versionId: string, ms: number): VersionAs => ({ versionId, stamp: stampAt(ms, 0) })
      const putAs = async (key: string, text: string, versionAs: VersionAs): Promise<ObjectInfo> => await store.putObject('named', key, streamOfBytes(bytes(text)), { metadata: meta, size: text.length, versionAs })
      const ids = async (): Promise<string[]> => (await store.listObjectVersions('named', { limit: 100 })).versions.map(v => `${v.key}:${v.versionId}${v.isLatest ? ':latest' : ''}`)
      assert.equal((await putAs('k', 'two!', as('v2', t - 1000))).versionId, 'v2')
      assert.equal((await putAs('k', 'one', as('v1', t - 2000))).versionId, 'v1', 'a late copy of an older version')
      assert.deepEqual(await ids(), ['k:v2:latest', 'k:v1'], 'kept as noncurrent: the newer one stays current')
      assert.equal(await getText(store, 'named', 'k'), 'two!')
      await putAs('k', 'three', as('v3', t))
      assert.deepEqual(await ids(), ['k:v3:latest', 'k:v2', 'k:v1'], 'a newer one is current')
      await putAs('k', 'ONE', as('v1', t - 2000))
      await putAs('k', 'nul', as('null', t - 1500))
      assert.deepEqual(await ids(), ['k:v3:latest', 'k:v2', 'k:null', 'k:v1'], 'the same id again replaces it in its place; a null version goes by its stamp too')
      const text = async (versionId: string): Promise<string> => dec.decode(await readStream((await store.openObject('named', 'k', { versionId })).stream()))
      assert.deepEqual([await text('v1'), await text('null'), await text('v2'), await text('v3')], ['ONE', 'nul', 'two!', 'three'])
      // Deleting the current version by id makes the newest of the rest current, whatever order they came in.
      await store.deleteObject('named', 'k', { versionId: 'v3' })
      assert.equal(await getText(store, 'named', 'k'), 'two!')
      // A copy keeps its version, as a replica's identity (copyOf) or one known at its end (copyOfAtEnd).
      const hash = webHashes.create('sha256')
      hash.update(bytes('copied'))
      const sha = toHex(hash.digest())
      const copied = await store.putObject('named', 'c', streamOfBytes(bytes('copied')), { metadata: meta, copyOf: { etag: 'abc', lastModified: new Date(t - 100), versionAs: as('vc', t - 100) } })
      assert.deepEqual([copied.versionId, copied.etag, copied.sha256], ['vc', 'abc', sha])
      await store.putObject('named', 'c', streamOfBytes(bytes('old copy')), { metadata: meta, copyOfAtEnd: () => ({ etag: 'def', sha256: 'd'.repeat(64), lastModified: new Date(t - 200), versionAs: as('vb', t - 200) }) })
      assert.deepEqual((await ids()).filter(x => x.startsWith('c:')), ['c:vc:latest', 'c:vb'])
      // An id that is not one s3mesh makes (a store may name a file by it) is refused.
      await assert.rejects(putAs('k', 'path', as('../../x', t)), (err: unknown) => isS3Error(err, 'InvalidArgument'))
      // A bucket never versioned keeps only the null version.
      await store.createBucket('plain')
      await assert.rejects(store.putObject('plain', 'k', streamOfBytes(bytes('x')), { metadata: meta, versionAs: as('v9', t) }), (err: unknown) => isS3Error(err, 'InvalidRequest'))
      assert.equal((await store.putObject('plain', 'k', streamOfBytes(bytes('x')), { metadata: meta, versionAs: as('null', t) })).versionId, undefined)
      assert.equal(await getText(store, 'plain', 'k'), 'x')
    })

    versioned('while suspended, a write or a delete replaces the null version and keeps the others', async store => {
      await store.createBucket('sus')
      await store.setBucketVersioning('sus', 'Enabled')
      await put(store, 'sus', 'k', 'kept')
      await store.setBucketVersioning('sus', 'Suspended')
      assert.equal((await put(store, 'sus', 'k', 'null one')).versionId, 'null')
      assert.equal((await put(store, 'sus', 'k', 'null two')).versionId, 'null')
      assert.deepEqual(await versionsOf(store, 'sus'), ['k:8:latest', 'k:4'])
      assert.deepEqual(await store.deleteObject('sus', 'k'), { versionId: 'null', deleteMarker: true })
      assert.deepEqual(await versionsOf(store, 'sus'), ['k:marker:latest', 'k:4'])
    })

    versioned('lists versions a page at a time from a key and version marker', async store => {
      await store.createBucket('pgs')
      await store.setBucketVersioning('pgs', 'Enabled')
      for (const key of ['a', 'b', 'c']) for (const body of ['1', '22']) await put(store, 'pgs', key, body)
      await store.deleteObject('pgs', 'b')
      const all = (await store.listObjectVersions('pgs', { limit: 100 })).versions
      assert.deepEqual(all.map(v => `${v.key}:${v.deleteMarker ? 'm' : v.size!}`), ['a:2', 'a:1', 'b:m', 'b:2', 'b:1', 'c:2', 'c:1'])
      const seen: string[] = []
      let keyMarker: string | undefined
      let versionIdMarker: string | undefined
      for (;;) {
        const page = await store.listObjectVersions('pgs', { limit: 2, ...(keyMarker === undefined ? {} : { keyMarker }), ...(versionIdMarker === undefined ? {} : { versionIdMarker }) })
        seen.push(...page.versions.map(v => v.versionId))
        if (!page.isTruncated) break
        keyMarker = page.versions.at(-1)!.key
        versionIdMarker = page.versions.at(-1)!.versionId
      }
      assert.deepEqual(seen, all.map(v => v.versionId))
      assert.deepEqual(await versionsOf(store, 'pgs', { keyMarker: 'a' }), ['b:marker:latest', 'b:2', 'b:1', 'c:2:latest', 'c:1'], 'a key marker alone skips all of that key')
      assert.deepEqual(await versionsOf(store, 'pgs', { prefix: 'c' }), ['c:2:latest', 'c:1'])
      // Emptied a page at a time, as clients do: each page deleted before the next is asked for after its last version.
      let marker: { keyMarker: string, versionIdMarker: string } | undefined
      for (;;) {
        const page = await store.listObjectVersions('pgs', { limit: 2, ...marker })
        for (const v of page.versions) await store.deleteObject('pgs', v.key, { versionId: v.versionId })
        if (!page.isTruncated) break
        marker = { keyMarker: page.versions.at(-1)!.key, versionIdMarker: page.versions.at(-1)!.versionId }
      }
      assert.deepEqual(await versionsOf(store, 'pgs'), [], 'no version was skipped')
      await store.deleteBucket('pgs')
    })

    versioned('emptied a page at a time, a page ending on the null version deleted before the next skips nothing', async store => {
      await store.createBucket('nul')
      await store.setBucketVersioning('nul', 'Enabled')
      await put(store, 'nul', 'k', 'one')
      await put(store, 'nul', 'k', 'two')
      await store.setBucketVersioning('nul', 'Suspended')
      await put(store, 'nul', 'k', 'null')
      assert.deepEqual(await versionsOf(store, 'nul'), ['k:4:latest', 'k:3', 'k:3'])
      let marker: { keyMarker: string, versionIdMarker: string } | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.listObjectVersions('nul', { limit: 1, ...marker })
        for (const v of page.versions) await store.deleteObject('nul', v.key, { versionId: v.versionId })
        if (!page.isTruncated) break
        marker = { keyMarker: page.versions.at(-1)!.key, versionIdMarker: page.versions.at(-1)!.versionId }
      }
      assert.deepEqual(await versionsOf(store, 'nul'), [], 'every version was listed and deleted')
      await store.deleteBucket('nul')
    })

    versioned('a completed multipart upload is a new version', async store => {
      await store.createBucket('mpv')
      await store.setBucketVersioning('mpv', 'Enabled')
      const first = await put(store, 'mpv', 'k', 'single')
      const id = await store.createMultipartUpload('mpv', 'k', { metadata: meta })
      const p1 = await store.uploadPart('mpv', 'k', id, 1, streamOfBytes(bytes('multi')))
      const done = await store.completeMultipartUpload('mpv', 'k', id, [{ partNumber: 1, etag: p1.etag }])
      assert.ok(done.versionId !== undefined && done.versionId !== first.versionId)
      assert.deepEqual(await versionsOf(store, 'mpv'), ['k:5:latest', 'k:6'])
    })

    // ---- object lock (core/object-lock.ts): a store that keeps it ----
    type Locking = ObjectStore & Required<Pick<ObjectStore, 'setBucketVersioning' | 'listObjectVersions' | 'setBucketObjectLock' | 'setObjectLock'>>
    const locking = (title: string, fn: (store: Locking, reopen?: () => Promise<ObjectStore>) => Promise<void>): void => {
      if (options.noObjectLock !== undefined) { skip(title, options.noObjectLock); return }
      withStore(title, async ({ store, reopen }) => {
        assert.ok(store.setBucketObjectLock !== undefined && store.setObjectLock !== undefined, 'a store that keeps object lock implements setBucketObjectLock and setObjectLock; one that does not says why in the suite\'s options')
        await fn(store as Locking, reopen)
      })
    }
    const days = (n: number): Date => new Date(Date.now() + n * 86_400_000)
    const lockedBucket = async (store: Locking, name: string): Promise<void> => {
      await store.createBucket(name)
      await store.setBucketVersioning(name, 'Enabled')
      await store.setBucketObjectLock(name, {})
    }
    const isLocked = (err: unknown): boolean => isS3Error(err, 'AccessDenied') && /object lock/.test(err.message)

    locking('object lock is turned on only while versioning is enabled, and versioning then stays enabled', async store => {
      await store.createBucket('lk-state')
      await rejects(store.setBucketObjectLock('lk-state', {}), 'InvalidBucketState')
      await store.setBucketVersioning('lk-state', 'Enabled')
      await store.setBucketObjectLock('lk-state', { rule: { mode: 'GOVERNANCE', days: 1 } })
      assert.deepEqual((await store.headBucket('lk-state')).objectLock, { rule: { mode: 'GOVERNANCE', days: 1 } })
      await rejects(store.setBucketVersioning('lk-state', 'Suspended'), 'InvalidBucketState')
      assert.equal((await store.headBucket('lk-state')).versioning, 'Enabled')
      await store.setBucketObjectLock('lk-state', {})
      assert.deepEqual((await store.headBucket('lk-state')).objectLock, {}, 'the default retention cleared, the lock kept')
      // A lock asked of a bucket without object lock is refused, and nothing is stored.
      await store.createBucket('lk-none')
      await assert.rejects(put(store, 'lk-none', 'k', 'x', { lock: { legalHold: true } }), (err: unknown) => isS3Error(err, 'InvalidRequest'))
      await rejects(store.headObject('lk-none', 'k'), 'NoSuchKey')
      await put(store, 'lk-none', 'k', 'x')
      await rejects(store.setObjectLock('lk-none', 'k', { legalHold: true }), 'InvalidRequest')
    })

    locking('a version under retention or a legal hold is not deleted by id; a delete without one makes a marker; GOVERNANCE goes with a bypass', async (store, reopen) => {
      await lockedBucket(store, 'lk-del')
      const g = await put(store, 'lk-del', 'gov', 'governed', { lock: { retention: { mode: 'GOVERNANCE', until: days(1) } } })
      const c = await put(store, 'lk-del', 'comp', 'complied', { lock: { retention: { mode: 'COMPLIANCE', until: days(1) } } })
      const h = await put(store, 'lk-del', 'held', 'held', { lock: { legalHold: true } })
      assert.deepEqual((await store.headObject('lk-del', 'comp')).lock?.retention?.mode, 'COMPLIANCE')
      assert.deepEqual((await store.headObject('lk-del', 'held', { versionId: h.versionId! })).lock, { legalHold: true })
      await assert.rejects(store.deleteObject('lk-del', 'gov', { versionId: g.versionId! }), isLocked)
      await assert.rejects(store.deleteObject('lk-del', 'comp', { versionId: c.versionId!, bypassGovernance: true }), isLocked, 'nothing lifts COMPLIANCE')
      await assert.rejects(store.deleteObject('lk-del', 'held', { versionId: h.versionId!, bypassGovernance: true }), isLocked, 'nor a legal hold')
      // Noncurrent now, so only its lock keeps it from the lifecycle runner's conditional delete (kept quietly, not refused).
      await put(store, 'lk-del', 'comp', 'newer')
      if (options.noDeleteConditions === undefined) {
        assert.deepEqual(await store.deleteObject('lk-del', 'comp', { versionId: c.versionId!, onlyIf: 'noncurrent' }), { versionId: c.versionId, kept: true }, 'a conditional delete (lifecycle\'s) keeps it quietly')
      }
      const marker = await store.deleteObject('lk-del', 'comp')
      assert.equal(marker?.deleteMarker, true, 'a delete without an id makes a marker')
      assert.equal(await getText(store, 'lk-del', 'comp').catch(() => 'gone'), 'gone')
      assert.equal(dec.decode(await readStream((await store.openObject('lk-del', 'comp', { versionId: c.versionId! })).stream())), 'complied', 'the locked version is still there')
      assert.deepEqual(await store.deleteObject('lk-del', 'gov', { versionId: g.versionId!, bypassGovernance: true }), { versionId: g.versionId })
      await store.setObjectLock('lk-del', 'held', { legalHold: false })
      assert.deepEqual(await store.deleteObject('lk-del', 'held', { versionId: h.versionId! }), { versionId: h.versionId }, 'once the hold is lifted')
      if (reopen !== undefined) {
        const again = await reopen()
        assert.equal((await again.headObject('lk-del', 'comp', { versionId: c.versionId! })).lock?.retention?.mode, 'COMPLIANCE', 'kept across a restart')
        assert.deepEqual((await again.headBucket('lk-del')).objectLock, {})
        await assert.rejects(again.deleteObject('lk-del', 'comp', { versionId: c.versionId! }), isLocked)
      }
    })

    locking('a retention is extended, never shortened or lifted but GOVERNANCE with a bypass; a legal hold is set and lifted', async store => {
      await lockedBucket(store, 'lk-change')
      const v = await put(store, 'lk-change', 'k', 'x')
      assert.equal(v.lock, undefined, 'no default retention: unprotected')
      const at = { versionId: v.versionId! }
      const two = days(2)
      assert.deepEqual(await store.setObjectLock('lk-change', 'k', { retention: { mode: 'GOVERNANCE', until: two } }, at), { retention: { mode: 'GOVERNANCE', until: two } })
      assert.deepEqual((await store.headObject('lk-change', 'k')).lock, { retention: { mode: 'GOVERNANCE', until: two } })
      await assert.rejects(store.setObjectLock('lk-change', 'k', { retention: { mode: 'GOVERNANCE', until: days(1) } }, at), isLocked)
      await store.setObjectLock('lk-change', 'k', { retention: { mode: 'GOVERNANCE', until: days(3) } }, at)
      await store.setObjectLock('lk-change', 'k', { legalHold: true }, at)
      assert.equal((await store.headObject('lk-change', 'k')).lock?.legalHold, true)
      await store.setObjectLock('lk-change', 'k', { retention: undefined }, { ...at, bypassGovernance: true })
      assert.deepEqual((await store.headObject('lk-change', 'k')).lock, { legalHold: true }, 'the retention lifted, the hold kept')
      await store.setObjectLock('lk-change', 'k', { retention: { mode: 'COMPLIANCE', until: days(2) } }, at)
      for (const change of [{ retention: { mode: 'COMPLIANCE' as const, until: days(1) } }, { retention: { mode: 'GOVERNANCE' as const, until: days(5) } }, { retention: undefined }]) {
        await assert.rejects(store.setObjectLock('lk-change', 'k', change, { ...at, bypassGovernance: true }), isLocked, JSON.stringify(change))
      }
      assert.equal(await store.setObjectLock('lk-change', 'k', { legalHold: false }, at).then(l => l?.legalHold), false, 'a hold lifted is OFF, not unset')
      await rejects(store.setObjectLock('lk-change', 'k', { legalHold: true }, { versionId: 'nosuchversion' }), 'NoSuchVersion')
    })

    locking('the bucket\'s default retention is given to each new version from when it is made: a PUT and a completed upload', async store => {
      await lockedBucket(store, 'lk-default')
      await store.setBucketObjectLock('lk-default', { rule: { mode: 'COMPLIANCE', days: 2 } })
      const before = Date.now()
      const v = await put(store, 'lk-default', 'k', 'x')
      const after = Date.now()
      // As the version's HEAD shows it (a PUT's answer may not: S3's says nothing of the lock).
      const lock = (await store.headObject('lk-default', 'k', { versionId: v.versionId! })).lock
      const until = lock?.retention?.until.getTime() ?? 0
      // A gateway's dates have whole seconds, as S3's headers do.
      assert.ok(lock?.retention?.mode === 'COMPLIANCE' && until >= before - 1000 + 2 * 86_400_000 && until <= after + 2 * 86_400_000, `two days from the PUT: ${String(lock?.retention?.until)}`)
      const asked = await put(store, 'lk-default', 'k', 'y', { lock: { retention: { mode: 'GOVERNANCE', until: days(9) } } })
      assert.equal((await store.headObject('lk-default', 'k', { versionId: asked.versionId! })).lock?.retention?.mode, 'GOVERNANCE', 'the lock asked for wins over the default')
      const id = await store.createMultipartUpload('lk-default', 'mp', { metadata: meta, lock: { legalHold: true } })
      const p1 = await store.uploadPart('lk-default', 'mp', id, 1, streamOfBytes(bytes('part')))
      const done = await store.completeMultipartUpload('lk-default', 'mp', id, [{ partNumber: 1, etag: p1.etag }])
      assert.equal(done.lock?.legalHold, true)
      assert.equal(done.lock?.retention?.mode, 'COMPLIANCE', 'a hold alone keeps the default retention')
      await assert.rejects(store.deleteObject('lk-default', 'mp', { versionId: done.versionId! }), isLocked)
    })

    const restart = 'survives a restart with everything in place'
    if (options.noRestart !== undefined) skip(restart, options.noRestart)
    else withStore(restart, async ({ store, reopen }) => {
      assert.ok(reopen !== undefined, 'a store that persists reopens; one that does not says why in the suite\'s options')
      await store.createBucket('keep')
      await put(store, 'keep', 'a/b', 'persisted', { metadata: { contentType: 'text/x', user: { u: '1' } } })
      await put(store, 'keep', 'a', 'parent')
      const id = await store.createMultipartUpload('keep', 'mp', { metadata: meta })
      await store.uploadPart('keep', 'mp', id, 1, streamOfBytes(bytes('part')))
      const rules: LifecycleRule[] = [{ id: 'r', enabled: true, filter: { prefix: 'a' }, expiration: { days: 1 } }]
      await store.setBucketLifecycle('keep', rules)
      const again = await reopen()
      assert.deepEqual((await again.headBucket('keep')).lifecycle, rules)
      assert.equal(await getText(again, 'keep', 'a/b'), 'persisted')
      assert.equal(await getText(again, 'keep', 'a'), 'parent')
      assert.equal((await again.headObject('keep', 'a/b')).metadata.contentType, 'text/x')
      assert.deepEqual((await again.listObjects('keep', { limit: 10 })).objects.map(o => o.key), ['a', 'a/b'])
      assert.deepEqual((await again.listParts('keep', 'mp', id)).map(p => p.size), [4])
    })
  })
}
