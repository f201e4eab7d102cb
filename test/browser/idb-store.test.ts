/** The IndexedDB store in a real Chromium: the shared ObjectStore compliance suite, and what only a browser store must do. */
import assert from 'node:assert/strict'
import { createStore, promisifyRequest } from 'idb-keyval'
import { IdbStore } from '../../src/browser/idb-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { objectStoreSuite, readStream } from '../compliance/object-store-suite.js'

declare const describe: (name: string, fn: () => void) => void
declare const it: ((name: string, fn: () => Promise<void>) => void) & { skip: (name: string) => void }

let n = 0
const fresh = (): string => `s3mesh-test-${Date.now()}-${n++}`

objectStoreSuite('IdbStore (Chromium)', async () => {
  const database = fresh()
  return {
    store: new IdbStore({ database }),
    reopen: async () => new IdbStore({ database }),
    // The store's connection stays open; the delete completes when the page goes.
    cleanup: async () => { indexedDB.deleteDatabase(database) },
  }
}, { describe, it, skip: (name, reason) => { it.skip(`${name} (${reason})`) } })

/** Every value in the store's database, with its key. */
async function values (database: string): Promise<Array<{ key: IDBValidKey[], value: unknown }>> {
  return await createStore(database, 'records')('readonly', async s => {
    const keys = await promisifyRequest(s.getAllKeys()) as IDBValidKey[][]
    const vals = await promisifyRequest(s.getAll())
    return keys.map((key, i) => ({ key, value: vals[i] }))
  })
}

describe('IdbStore in the browser', () => {
  it('keeps a large object in 1 MiB values, never one big value, and reads any range of it', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('big')
    const body = crypto.getRandomValues(new Uint8Array(64 * 1024)).slice()
    const whole = new Uint8Array(5 * 1024 * 1024 + 3)
    for (let at = 0; at < whole.length; at += body.length) whole.set(body.subarray(0, Math.min(body.length, whole.length - at)), at)
    const info = await store.putObject('big', 'blob', streamOfBytes(whole, 100_000), { metadata: { user: {} } })
    assert.equal(info.size, whole.length)
    const chunks = (await values(database)).filter(v => v.key[0] === 'c')
    assert.equal(chunks.length, 6, 'five full chunks and a 3-byte one')
    assert.ok(chunks.every(c => c.value instanceof Blob && c.value.size <= 1024 * 1024), 'each chunk a Blob of 1 MiB at most')
    const h = await store.openObject('big', 'blob')
    const got = await readStream(h.stream({ start: 1024 * 1024 - 5, end: 3 * 1024 * 1024 + 7 }))
    assert.deepEqual(got, whole.subarray(1024 * 1024 - 5, 3 * 1024 * 1024 + 8))
    assert.deepEqual(await readStream((await store.openObject('big', 'blob')).stream()), whole)
  })

  it('keeps a copy given as a Blob as slices of it, its stream unread; one it must hash it reads from the stream', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    const whole = crypto.getRandomValues(new Uint8Array(65536))
    const big = new Uint8Array(2 * 1024 * 1024 + 100)
    for (let at = 0; at < big.length; at += whole.length) big.set(whole.subarray(0, Math.min(big.length - at, whole.length)), at)
    let pulled = 0
    const unread = new ReadableStream<Uint8Array>({ pull: c => { pulled++; c.close() } }, { highWaterMark: 0 })
    // A copy (its identity given, nothing hashed): the Blob is kept as it is.
    const copy = { etag: 'e'.repeat(32), sha256: 'f'.repeat(64), lastModified: new Date() }
    const info = await store.putObject('b', 'copy', unread, { metadata: { user: {} }, blob: new Blob([big]), copyOfAtEnd: () => copy })
    assert.equal(info.size, big.length)
    assert.equal(pulled, 0, 'the stream was not read')
    const chunks = (await values(database)).filter(v => v.key[0] === 'c')
    assert.deepEqual(chunks.map(c => (c.value as Blob).size), [1024 * 1024, 1024 * 1024, 100], 'three slices of 1 MiB at most')
    assert.deepEqual(await readStream((await store.openObject('b', 'copy')).stream()), big)
    assert.deepEqual(await readStream((await store.openObject('b', 'copy')).stream({ start: 1024 * 1024 - 2, end: 1024 * 1024 + 1 })), big.subarray(1024 * 1024 - 2, 1024 * 1024 + 2))
    // A client's write is hashed for its ETag: its bytes come from the stream, whatever Blob is named.
    const plain = await store.putObject('b', 'plain', streamOfBytes(whole), { metadata: { user: {} }, blob: new Blob([new Uint8Array(3)]) })
    assert.equal(plain.size, whole.length)
    assert.deepEqual(await readStream((await store.openObject('b', 'plain')).stream()), whole)
  })

  it('hands over any range of an object as one Blob of its stored chunks, across the seams between chunks', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    const whole = crypto.getRandomValues(new Uint8Array(65536))
    const big = new Uint8Array(2 * 1024 * 1024 + 100)
    for (let at = 0; at < big.length; at += whole.length) big.set(whole.subarray(0, Math.min(whole.length, big.length - at)), at)
    await store.putObject('b', 'big', streamOfBytes(big, 300_000), { metadata: { user: {} } })
    await store.putObject('b', 'small', streamOfBytes(whole), { metadata: { user: {} } })
    await store.putObject('b', 'empty', streamOfBytes(new Uint8Array(0)), { metadata: { user: {} } })
    const bytesOf = async (b: Uint8Array | Blob | undefined): Promise<Uint8Array> => b instanceof Blob ? new Uint8Array(await b.arrayBuffer()) : b!
    const h = await store.openObject('b', 'big')
    for (const r of [undefined, { start: 0, end: 0 }, { start: 1024 * 1024 - 3, end: 1024 * 1024 + 2 }, { start: 5, end: big.length - 1 }, { start: 2 * 1024 * 1024, end: 2 * 1024 * 1024 + 99 }]) {
      const body = await h.body!(r)
      assert.ok(body instanceof Blob, 'a Blob, not bytes read')
      assert.deepEqual(await bytesOf(body), r === undefined ? big : big.subarray(r.start, r.end + 1), `range ${JSON.stringify(r)}`)
    }
    assert.deepEqual(await bytesOf(await (await store.openObject('b', 'small')).body!({ start: 10, end: 19 })), whole.subarray(10, 20))
    assert.equal((await bytesOf(await (await store.openObject('b', 'empty')).body!())).byteLength, 0)
  })

  it('reads objects whose chunks an earlier release kept as byte arrays: every range, as a stream, and whole when it is one chunk', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('old')
    const big = crypto.getRandomValues(new Uint8Array(65536))
    const two = new Uint8Array(1024 * 1024 + 65536)
    two.set(big, 1024 * 1024 - 100)
    await store.putObject('old', 'two', streamOfBytes(two), { metadata: { user: {} } })
    await store.putObject('old', 'one', streamOfBytes(big), { metadata: { user: {} } })
    // As an earlier release stored them: each chunk's bytes as a byte array (read first: a transaction ends while it waits on a Blob).
    const stored = (await values(database)).filter(v => v.key[0] === 'c')
    const asBytes = await Promise.all(stored.map(async c => ({ key: c.key, bytes: new Uint8Array(await (c.value as Blob).arrayBuffer()) })))
    await createStore(database, 'records')('readwrite', async s => { for (const c of asBytes) s.put(c.bytes, c.key) })
    assert.ok((await values(database)).filter(v => v.key[0] === 'c').every(c => c.value instanceof Uint8Array), 'the chunks are byte arrays now')
    const h = await store.openObject('old', 'two')
    assert.deepEqual(await readStream(h.stream()), two)
    assert.deepEqual(await readStream(h.stream({ start: 1024 * 1024 - 100, end: 1024 * 1024 + 65435 })), big)
    assert.equal(await h.body!(), undefined, 'no Blob to hand over: the caller streams')
    assert.deepEqual(await h.body!({ start: 0, end: 9 }), undefined)
    const one = await store.openObject('old', 'one')
    assert.deepEqual(await one.body!({ start: 3, end: 9 }), big.subarray(3, 10), 'a one-chunk object: its bytes, read with its record')
    assert.deepEqual(await readStream(one.stream()), big)
  })

  it('a failed upload leaves no chunks behind; a replaced version stays readable for a reader that opened it', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    const big = new Uint8Array(3 * 1024 * 1024).fill(7)
    await store.putObject('b', 'k', streamOfBytes(big), { metadata: { user: {} } })
    const reader = await store.openObject('b', 'k')
    let sent = 0
    const failing = new ReadableStream<Uint8Array>({ pull: c => { if (sent++ < 3) c.enqueue(new Uint8Array(1024 * 1024)); else c.error(new Error('client went away')) } })
    await assert.rejects(store.putObject('b', 'k', failing, { metadata: { user: {} } }))
    assert.equal((await values(database)).filter(v => v.key[0] === 'c').length, 3, 'only the committed version\'s chunks')
    await store.putObject('b', 'k', streamOfBytes(new Uint8Array(10).fill(1)), { metadata: { user: {} } })
    assert.deepEqual(await readStream(reader.stream()), big, 'the reader that opened the old version still reads it whole')
  })

  it('keeps the bytes of every version it keeps (none is marked for the sweep), and marks a version\'s once it is deleted; a page and its worker see the same versions', async () => {
    const database = fresh()
    const page = new IdbStore({ database })
    await page.createBucket('v')
    await page.setBucketVersioning('v', 'Enabled')
    const v1 = await page.putObject('v', 'k', streamOfBytes(new TextEncoder().encode('one')), { metadata: { user: {} } })
    await page.putObject('v', 'k', streamOfBytes(new TextEncoder().encode('two')), { metadata: { user: {} } })
    await page.deleteObject('v', 'k')
    const retired = async (): Promise<number> => (await values(database)).filter(v => v.key[0] === 'g').length
    assert.equal(await retired(), 0, 'an overwrite and a delete marker keep the versions before them')
    const worker = new IdbStore({ database })
    assert.deepEqual((await worker.listObjectVersions('v', { limit: 10 })).versions.map(v => [v.deleteMarker, v.isLatest, v.size ?? null]), [[true, true, null], [false, false, 3], [false, false, 3]])
    assert.equal(new TextDecoder().decode(await readStream((await worker.openObject('v', 'k', { versionId: v1.versionId! })).stream())), 'one')
    await worker.deleteObject('v', 'k', { versionId: v1.versionId! })
    assert.equal(await retired(), 1, 'the deleted version\'s bytes are marked for the sweep')
  })

  it('frees what a delete leaves once its grace has passed without waiting for a write (a site whose quota is used up writes nothing)', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    await store.putObject('b', 'big', streamOfBytes(new Uint8Array(3 * 1024 * 1024).fill(3)), { metadata: { user: {} } })
    await store.putObject('b', 'small', streamOfBytes(new Uint8Array(10).fill(1)), { metadata: { user: {} } })
    await store.deleteObject('b', 'big')
    await store.sweep() // the sweep that delete started, over (it ran before the clock moves on below)
    const kinds = async (): Promise<string> => (await values(database)).map(v => String(v.key[0])).filter(k => k === 'c' || k === 'g').sort().join('')
    assert.equal(await kinds(), 'ccccg', 'the deleted object\'s chunks wait out their grace (a reader may have it open)')
    const now = Date.now
    Date.now = () => now() + 61_000
    try {
      await store.deleteObject('b', 'small')
      // The delete starts the sweep (and does not wait for it): given a second. Left: the small one's chunk and mark.
      for (let i = 0; i < 20 && await kinds() !== 'cg'; i++) await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(await kinds(), 'cg', 'swept after the delete, with no write since')
    } finally { Date.now = now }
  })

  it('a write stalled so long that the sweep took it for abandoned fails, rather than commit without its first chunks', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    let release!: () => void
    const released = new Promise<void>(resolve => { release = resolve })
    let sent = 0
    const stalling = new ReadableStream<Uint8Array>({
      pull: async c => {
        if (sent === 1) await released
        if (sent++ < 3) c.enqueue(new Uint8Array(1024 * 1024).fill(sent))
        else c.close()
      },
    })
    const put = store.putObject('b', 'slow', stalling, { metadata: { user: {} } })
    void put.catch(() => {})
    const marks = async (): Promise<IDBValidKey[][]> => (await values(database)).filter(v => v.key[0] === 'w').map(v => v.key)
    for (let i = 0; i < 40 && (await marks()).length === 0; i++) await new Promise(resolve => setTimeout(resolve, 25))
    const [mark] = await marks()
    assert.ok(mark !== undefined, 'the write has stored its first chunk (the precondition)')
    // Two hours go by: the mark is as old as an abandoned write's, and a sweep runs.
    await createStore(database, 'records')('readwrite', async s => { s.put(Date.now() - 2 * 60 * 60_000, mark) })
    await store.sweep()
    release()
    await assert.rejects(put, (err: Error & { code?: string }) => err.code === 'InternalError')
    await assert.rejects(store.headObject('b', 'slow'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
    assert.equal((await values(database)).filter(v => v.key[0] === 'c' || v.key[0] === 'w').length, 0, 'no chunk or mark left')
  })

  it('a part uploaded again while its upload is being completed makes the completion fail with InvalidPart, and a completion with the new part then stores it', async () => {
    const database = fresh()
    const store = new IdbStore({ database })
    await store.createBucket('b')
    const uploadId = await store.createMultipartUpload('b', 'mp', { metadata: { user: {} } })
    const first = new Uint8Array(2 * 1024 * 1024).fill(1)
    const second = new Uint8Array(2 * 1024 * 1024).fill(2)
    const part1 = await store.uploadPart('b', 'mp', uploadId, 1, streamOfBytes(first))
    // The completion reads the part's chunks back (to hash them); it is held at its first chunk while the part is uploaded again.
    const chunks = (store as unknown as { chunks: { chunk: (version: string, i: number) => Promise<Uint8Array> } }).chunks
    const read = chunks.chunk.bind(chunks)
    let holding!: () => void
    const held = new Promise<void>(resolve => { holding = resolve })
    let release!: () => void
    const released = new Promise<void>(resolve => { release = resolve })
    chunks.chunk = async (version, i) => { holding(); await released; return await read(version, i) }
    const completing = store.completeMultipartUpload('b', 'mp', uploadId, [{ partNumber: 1, etag: part1.etag }])
    void completing.catch(() => {})
    await held
    chunks.chunk = read
    const again = await store.uploadPart('b', 'mp', uploadId, 1, streamOfBytes(second))
    assert.notEqual(again.etag, part1.etag, 'the part was uploaded again with other bytes (the precondition)')
    release()
    await assert.rejects(completing, (err: Error & { code?: string }) => err.code === 'InvalidPart')
    await assert.rejects(store.headObject('b', 'mp'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
    await store.completeMultipartUpload('b', 'mp', uploadId, [{ partNumber: 1, etag: again.etag }])
    assert.deepEqual(await readStream((await store.openObject('b', 'mp')).stream()), second, 'the new part\'s bytes, whole')
  })

  it('survives a reload of the page: what a store wrote, a new store on the same database reads', async () => {
    const database = fresh()
    const first = new IdbStore({ database })
    await first.createBucket('keep')
    await first.putObject('keep', 'note.txt', streamOfBytes(new TextEncoder().encode('still here')), { metadata: { contentType: 'text/plain', user: {} } })
    const second = new IdbStore({ database })
    const h = await second.openObject('keep', 'note.txt')
    assert.equal(new TextDecoder().decode(await readStream(h.stream())), 'still here')
    assert.equal(h.info.metadata.contentType, 'text/plain')
  })
})
