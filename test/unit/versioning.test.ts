import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { afterDelete, afterMarker, checkVersionId, versionIdOf, NULL_VERSION, VersionIds, versionToRead, withVersion, writtenVersionId, type KeptVersion } from '../../src/core/versioning.js'

type V = KeptVersion & { lastModified: Date, body?: string }
const obj = (versionId: string, body = versionId): V => ({ versionId, deleteMarker: false, lastModified: new Date(0), body })
const marker = (versionId: string): V => ({ versionId, deleteMarker: true, lastModified: new Date(0) })
const ids = (vs: V[]): string[] => vs.map(v => `${v.versionId}${v.deleteMarker ? '(m)' : ''}`)

describe('versioning rules', () => {
  it('makes version ids that sort in the order they were made, unique within a millisecond', () => {
    let t = 1_700_000_000_000
    const maker = new VersionIds('12D3KooWAbCdEf', () => t)
    const made = [maker.next(), maker.next()]
    t += 1
    made.push(maker.next())
    // A clock that steps back does not reorder them.
    t -= 5_000
    made.push(maker.next())
    assert.equal(new Set(made).size, made.length)
    assert.deepEqual([...made].sort(), made)
    for (const id of made) checkVersionId(id)
    assert.notEqual(new VersionIds('other-node', () => 1).next(), new VersionIds('12D3KooWAbCdEf', () => 1).next(), 'two makers differ by their tag')
  })

  it('gives a write a new id only while versioning is enabled', () => {
    let n = 0
    const next = (): string => `id${++n}`
    assert.equal(writtenVersionId('Enabled', next), 'id1')
    assert.equal(writtenVersionId('Suspended', next), NULL_VERSION)
    assert.equal(writtenVersionId(undefined, next), NULL_VERSION)
  })

  it('puts a written version first and replaces one of the same id wherever it was', () => {
    assert.deepEqual(ids(withVersion([obj('b'), obj('null'), obj('a')], obj('null', 'new'))), ['null', 'b', 'a'])
    assert.deepEqual(ids(withVersion([obj('a')], obj('b'))), ['b', 'a'])
  })

  it('deletes as S3 does under each state', () => {
    const next = (): string => 'm1'
    // Never versioned: the null version goes, no marker.
    assert.deepEqual(afterDelete([obj('null')], undefined, undefined, next, marker).versions, [])
    // Enabled: a marker with a new id in front, nothing removed.
    const enabled = afterDelete([obj('a'), obj('null')], 'Enabled', undefined, next, marker)
    assert.deepEqual([ids(enabled.versions), enabled.result, enabled.removed], [['m1(m)', 'a', 'null'], { versionId: 'm1', deleteMarker: true }, undefined])
    // Suspended: a null marker replaces the null version.
    const suspended = afterDelete([obj('a'), obj('null')], 'Suspended', undefined, next, marker)
    assert.deepEqual([ids(suspended.versions), suspended.result, suspended.removed?.versionId], [['null(m)', 'a'], { versionId: 'null', deleteMarker: true }, 'null'])
    // A version named: that one goes (a marker says so); a missing one changes nothing.
    const named = afterDelete([marker('m'), obj('a')], 'Enabled', 'm', next, marker)
    assert.deepEqual([ids(named.versions), named.result], [['a'], { versionId: 'm', deleteMarker: true }])
    const missing = afterDelete([obj('a')], 'Enabled', 'zz', next, marker)
    assert.deepEqual([ids(missing.versions), missing.result, missing.removed], [['a'], { versionId: 'zz' }, undefined])
  })

  it('reads the current version or the one named, and answers a marker as S3 does', () => {
    assert.equal(versionToRead([obj('b'), obj('a')], 'k').versionId, 'b')
    assert.equal(versionToRead([obj('b'), obj('a')], 'k', 'a').versionId, 'a')
    assert.throws(() => versionToRead([], 'k'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers === undefined)
    assert.throws(() => versionToRead([marker('m'), obj('a')], 'k'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true' && err.headers['x-amz-version-id'] === 'm')
    assert.throws(() => versionToRead([marker('m'), obj('a')], 'k', 'm'), (err: unknown) => isS3Error(err, 'MethodNotAllowed') && err.status === 405 && err.headers?.allow === 'DELETE')
    assert.throws(() => versionToRead([obj('a')], 'k', 'b'), (err: unknown) => isS3Error(err, 'NoSuchVersion') && err.status === 404)
  })

  it('refuses a malformed version id, and takes AWS\'s (with + / =)', () => {
    for (const bad of ['', 'a b', 'x'.repeat(1025), 'tab\there']) assert.throws(() => { checkVersionId(bad) }, (err: unknown) => isS3Error(err, 'InvalidArgument'))
    checkVersionId('null')
    checkVersionId('3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo/a=')
  })

  it('goes on after a version-id marker, or after where it stood once it is deleted', () => {
    const at = (ms: number): V => ({ versionId: versionIdOf(ms, 0, 'n'), deleteMarker: false, lastModified: new Date(ms) })
    const nul: V = { versionId: 'null', deleteMarker: false, lastModified: new Date(2500) }
    const versions = [at(4000), at(3000), nul, at(1000)]
    assert.equal(afterMarker(versions, versions[1]!.versionId), 2)
    assert.equal(afterMarker(versions, 'null'), 3)
    // Deleted: between 3000 and the null version's 2500; after everything; before everything.
    assert.equal(afterMarker(versions, versionIdOf(2800, 0, 'n')), 2)
    assert.equal(afterMarker(versions, versionIdOf(500, 0, 'n')), 4)
    assert.equal(afterMarker(versions, versionIdOf(9000, 0, 'n')), 0)
    assert.equal(afterMarker([at(1000)], 'null'), 0, 'a deleted null marker has no place: the key is listed again (a duplicate, never a version skipped)')
  })
})
