/**
 * worker-reads: which reads a service worker may answer by itself for a tab
 * that joined, what the page tells it (and when it must not), and how the
 * worker keeps and takes back those marks.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import { admissionTag, CurrentReads, localReadPath, versionHeaders, WorkerMarks, type CurrentMark, type StaleMark } from '../../src/browser/worker-reads.js'

const SELF = 'tab'
let ms = 1
function entry (key: string, etag: string, holders = [SELF]): CatalogEntry {
  return { bucket: 'b', key, version: { ms: ms++, counter: 0, node: 'n' }, deleted: false, holders, object: { size: 1, etag, sha256: etag, lastModified: 1, metadata: { user: {} }, tags: {} } }
}
const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Request => new Request(`http://tab.test/s3/${path}`, { method, headers })
const answer = (etag: string, body: string | null = 'x', extra: Record<string, string> = {}): Response => new Response(body, { status: 200, headers: { etag: `"${etag}"`, 'x-amz-request-id': String(Math.random()), ...extra } })

const ADMISSION = 'admission-one'
/** The last message posted, without its number. */
function last (posted: Array<CurrentMark | StaleMark>): Omit<CurrentMark | StaleMark, 'seq'> {
  const { seq: _, ...message } = posted.at(-1)!
  return message
}

function page (): { catalog: Catalog, trusted: Set<string>, posted: Array<CurrentMark | StaleMark>, reads: CurrentReads } {
  const catalog = new Catalog()
  catalog.apply({ bucket: 'b', version: { ms: ms++, counter: 0, node: 'n' }, deleted: false, holders: [] })
  const trusted = new Set(['k'])
  const posted: Array<CurrentMark | StaleMark> = []
  const reads = new CurrentReads({ catalog, self: SELF, trusts: (_b: string, key: string) => trusted.has(key) }, () => ADMISSION, m => { posted.push(m) })
  return { catalog, trusted, posted, reads }
}

describe('worker-reads', () => {
  it('only a plain GET or HEAD of an object is a read the worker may answer', () => {
    assert.equal(localReadPath(get('b/k')), 'b/k')
    assert.equal(localReadPath(get('b/a%20dir/k%2B1')), 'b/a dir/k+1')
    assert.equal(localReadPath(get('b/k', {}, 'HEAD')), 'b/k')
    assert.equal(localReadPath(get('b/k', {}, 'DELETE')), undefined)
    assert.equal(localReadPath(get('b/k?versionId=1')), undefined, 'a version by id')
    assert.equal(localReadPath(get('b/k?response-content-type=x')), undefined, 'header overrides')
    assert.equal(localReadPath(get('b/k', { 'if-none-match': '"e"' })), undefined, 'a condition')
    assert.equal(localReadPath(get('b')), undefined, 'a bucket')
    assert.equal(localReadPath(get('b/')), undefined, 'a bucket')
    assert.equal(localReadPath(get('b/%E0%A4%A')), undefined, 'a path that does not decode')
  })

  it('two answers of one version compare equal whatever their request id, range and checksum', () => {
    const whole = new Headers({ etag: '"e"', 'content-length': '10', 'x-amz-request-id': 'a', 'x-amz-checksum-crc32': 'c', 'x-amz-meta-a': '1' })
    const range = new Headers({ 'x-amz-meta-a': '1', 'content-range': 'bytes 0-1/10', 'content-length': '2', 'x-amz-request-id': 'b', etag: '"e"' })
    assert.deepEqual(versionHeaders(whole), versionHeaders(range))
    assert.notDeepEqual(versionHeaders(whole), versionHeaders(new Headers({ etag: '"e"', 'x-amz-meta-a': '2' })), 'other metadata')
  })

  it('the page marks a whole GET once its body was read to the end, and a HEAD at once', async () => {
    const { catalog, posted, reads } = page()
    catalog.apply(entry('k', 'e1'))
    const res = reads.answered(reads.begin(get('b/k')), answer('e1', 'hello'))
    assert.equal(posted.length, 0, 'nothing before the body is read')
    assert.equal(await res.text(), 'hello')
    assert.deepEqual(posted.map(m => [m.type, (m as CurrentMark).method, (m as CurrentMark).path]), [['s3mesh:current', 'GET', 'b/k']])
    reads.answered(reads.begin(get('b/k', {}, 'HEAD')), answer('e1', null))
    assert.deepEqual(posted.map(m => (m as CurrentMark).method), ['GET', 'HEAD'])
  })

  it('the page marks nothing that is not its current, trusted, held version, read whole and checked', async () => {
    const { catalog, trusted, posted, reads } = page()
    catalog.apply(entry('k', 'e1'))
    catalog.apply(entry('other', 'e9', ['node']))
    trusted.add('other')
    const read = async (path: string, res: Response): Promise<void> => { await reads.answered(reads.begin(get(path)), res).arrayBuffer().catch(() => {}) }
    await read('b/other', answer('e9'))
    assert.equal(posted.length, 0, 'a version the tab does not hold')
    await read('b/k', answer('e0'))
    assert.equal(posted.length, 0, 'an answer of another version than the catalog\'s')
    await read('b/k', new Response('x', { status: 206, headers: { etag: '"e1"' } }))
    assert.equal(posted.length, 0, 'a range (not checked against the SHA-256)')
    const bad = new ReadableStream<Uint8Array>({ start: c => { c.enqueue(new Uint8Array(1)); c.error(new Error('bad bytes')) } })
    await read('b/k', new Response(bad, { status: 200, headers: { etag: '"e1"' } }))
    assert.equal(posted.length, 0, 'a body that failed its check')
    trusted.delete('k')
    await read('b/k', answer('e1'))
    assert.equal(posted.length, 0, 'an entry the feed does not keep current')
    trusted.add('k')
    // The key changes while the page answers: that answer is not marked, even if the catalog comes back to it.
    const token = reads.begin(get('b/k'))
    const e2 = entry('k', 'e2')
    catalog.apply(e2)
    assert.equal(posted.length, 0, 'nothing marked yet, so nothing to take back')
    await reads.answered(token, answer('e2')).text()
    assert.equal(posted.length, 0, 'a read that began before the change')
    await read('b/k', answer('e2'))
    assert.equal(posted.length, 1)
    // A HEAD whose ETag is not the catalog's, and a read that ends after the page stopped serving the worker.
    reads.answered(reads.begin(get('b/k', {}, 'HEAD')), answer('e1', null))
    const late = reads.answered(reads.begin(get('b/k')), answer('e2'))
    reads.stop()
    await late.text()
    assert.equal(posted.length, 1, 'neither is marked')
  })

  it('the page numbers what it posts, and a new admission takes every mark back', async () => {
    const { catalog, posted, reads } = page()
    catalog.apply(entry('k', 'e1'))
    assert.equal(reads.sent, 0)
    await reads.answered(reads.begin(get('b/k')), answer('e1')).text()
    assert.deepEqual(posted.map(m => m.seq), [1])
    assert.equal(reads.sent, 1)
    assert.equal((posted[0] as CurrentMark).admission, admissionTag(ADMISSION))
    reads.renewed()
    assert.deepEqual(posted.at(-1), { type: 's3mesh:stale', seq: 2 })
    reads.renewed()
    assert.equal(posted.length, 2, 'nothing to take back the second time')
  })

  it('the page does not mark a read that began before the changes it remembers were forgotten', async () => {
    const { catalog, posted, reads } = page()
    catalog.apply(entry('k', 'e1'))
    const token = reads.begin(get('b/k'))
    // More changes than are remembered, none of them to k.
    for (let i = 0; i < 10_001; i++) catalog.apply(entry(`x${i}`, 'e'))
    catalog.apply(entry('k', 'e2'))
    catalog.apply(entry('k', 'e1'))
    await reads.answered(token, answer('e1')).text()
    assert.equal(posted.length, 0)
  })

  it('the page takes a mark back when its key or bucket changes, or the key is forgotten', async () => {
    const { catalog, posted, reads } = page()
    catalog.apply(entry('k', 'e1'))
    await reads.answered(reads.begin(get('b/k')), answer('e1')).text()
    catalog.apply(entry('k', 'e2'))
    assert.deepEqual(last(posted), { type: 's3mesh:stale', bucket: 'b', key: 'k' })
    const count = posted.length
    catalog.apply(entry('k', 'e3'))
    assert.equal(posted.length, count, 'told once: nothing was marked since')
    await reads.answered(reads.begin(get('b/k')), answer('e3')).text()
    catalog.apply({ bucket: 'b', version: { ms: ms++, counter: 0, node: 'n' }, deleted: false, holders: [], versioning: 'Enabled' })
    assert.deepEqual(last(posted), { type: 's3mesh:stale', bucket: 'b' })
    await reads.answered(reads.begin(get('b/k')), answer('e3')).text()
    catalog.evict('b', 'k')
    assert.deepEqual(last(posted), { type: 's3mesh:stale', bucket: 'b', key: 'k' })
    reads.stop()
  })

  it('the worker keeps each page\'s marks, takes them back for every page, and does not retry one that did not match', () => {
    const marks = new WorkerMarks()
    const headers = versionHeaders(new Headers({ etag: '"e1"' }))
    const admission = admissionTag(ADMISSION)
    let seq = 0
    const current = (path: string): CurrentMark => ({ type: 's3mesh:current', seq: ++seq, method: 'GET', path, headers, admission })
    marks.take('p1', current('b/k'))
    marks.take('p2', current('b/k'))
    marks.take('p2', current('c/k'))
    const mark = marks.marked('p1', 'GET', 'b/k', ADMISSION)
    assert.ok(mark !== undefined)
    assert.equal(marks.marked('p1', 'GET', 'b/k', 'another-admission'), undefined, 'decided with another admission than the page\'s')
    assert.equal(marks.marked('p1', 'HEAD', 'b/k', ADMISSION), undefined, 'a GET\'s mark is not a HEAD\'s')
    assert.ok(marks.matches('p1', 'GET', 'b/k', mark, new Response(null, { status: 206, headers: { etag: '"e1"', 'content-range': 'bytes 0-0/5' } })))
    assert.ok(!marks.matches('p1', 'GET', 'b/k', mark, new Response(null, { status: 503 })))
    assert.ok(marks.marked('p1', 'GET', 'b/k', ADMISSION) !== undefined, 'a moment\'s error refuses nothing')
    assert.ok(!marks.matches('p1', 'GET', 'b/k', mark, new Response(null, { status: 200, headers: { etag: '"e2"' } })))
    marks.take('p1', current('b/k'))
    assert.equal(marks.marked('p1', 'GET', 'b/k', ADMISSION), undefined, 'refused until the key changes')
    assert.ok(!marks.matches('p2', 'GET', 'b/k', marks.marked('p2', 'GET', 'b/k', ADMISSION)!, new Response(null, { status: 404 })))
    marks.take('p3', { type: 's3mesh:stale', seq: 1, bucket: 'b', key: 'k' })
    marks.take('p1', current('b/k'))
    assert.ok(marks.marked('p1', 'GET', 'b/k', ADMISSION) !== undefined, 'marked again after the change')
    assert.ok(marks.marked('p2', 'GET', 'c/k', ADMISSION) !== undefined)
    marks.dropBucket('c')
    assert.equal(marks.marked('p2', 'GET', 'c/k', ADMISSION), undefined, 'a write to the bucket takes its marks back')
    marks.take('p2', current('c/k'))
    marks.take('p2', { type: 's3mesh:stale', seq: ++seq })
    assert.equal(marks.marked('p2', 'GET', 'c/k', ADMISSION), undefined, 'a new admission takes every mark back')
    assert.equal(marks.take('p1', { type: 's3mesh:request' }), false)
    assert.equal(marks.take('p1', null), false)
  })

  it('the worker uses no mark of a page until it has taken every message posted before the answers it relayed', () => {
    const marks = new WorkerMarks()
    const headers = versionHeaders(new Headers({ etag: '"e1"' }))
    marks.take('p', { type: 's3mesh:current', seq: 1, method: 'GET', path: 'b/k', headers, admission: admissionTag(ADMISSION) })
    const mark = marks.marked('p', 'GET', 'b/k', ADMISSION)!
    // A DELETE's answer, sent after the page posted stale (seq 2), arrives first.
    marks.relayed('p', 2)
    assert.equal(marks.marked('p', 'GET', 'b/k', ADMISSION), undefined, 'not until message 2 is taken')
    assert.ok(!marks.matches('p', 'GET', 'b/k', mark, new Response(null, { status: 200, headers: { etag: '"e1"' } })), 'nor an answer read meanwhile')
    marks.take('p', { type: 's3mesh:stale', seq: 2, bucket: 'b', key: 'k' })
    assert.equal(marks.marked('p', 'GET', 'b/k', ADMISSION), undefined, 'taken back')
    marks.take('p', { type: 's3mesh:current', seq: 3, method: 'GET', path: 'b/k', headers, admission: admissionTag(ADMISSION) })
    assert.ok(marks.marked('p', 'GET', 'b/k', ADMISSION) !== undefined)
    marks.relayed('p', undefined)
    assert.ok(marks.marked('p', 'GET', 'b/k', ADMISSION) !== undefined, 'an answer of a page that numbers nothing')
  })

  it('the worker forgets a page whose node went down, takes none of its late marks, and starts again when it is up', () => {
    const marks = new WorkerMarks()
    const headers = versionHeaders(new Headers({ etag: '"e1"' }))
    const current = (seq: number): CurrentMark => ({ type: 's3mesh:current', seq, method: 'GET', path: 'b/k', headers, admission: admissionTag(ADMISSION) })
    marks.take('p', current(5))
    marks.stop('p')
    assert.equal(marks.marked('p', 'GET', 'b/k', ADMISSION), undefined)
    marks.take('p', current(6))
    assert.equal(marks.marked('p', 'GET', 'b/k', ADMISSION), undefined, 'a mark that arrives after the node went down')
    marks.up('p')
    marks.take('p', current(1))
    assert.ok(marks.marked('p', 'GET', 'b/k', ADMISSION) !== undefined, 'numbered from one again')
  })

  it('the worker keeps at most ten thousand marks a page, the newest', () => {
    const marks = new WorkerMarks()
    const headers = versionHeaders(new Headers({ etag: '"e1"' }))
    for (let i = 1; i <= 10_001; i++) marks.take('p', { type: 's3mesh:current', seq: i, method: 'GET', path: `b/k${i}`, headers, admission: admissionTag(ADMISSION) })
    assert.equal(marks.marked('p', 'GET', 'b/k1', ADMISSION), undefined)
    assert.ok(marks.marked('p', 'GET', 'b/k2', ADMISSION) !== undefined)
    assert.ok(marks.marked('p', 'GET', 'b/k10001', ADMISSION) !== undefined)
  })
})
