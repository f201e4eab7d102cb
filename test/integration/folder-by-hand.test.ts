/**
 * Bucket = folder, object = file, by hand, against real `s3mesh server`
 * processes scanning every second: a file copied into a bucket folder while
 * the node runs becomes an object; a file deleted from it is no longer one
 * on a node that held the only copy, and on a mesh where another member
 * holds it too, the copy comes back (a member's folder is not where a
 * replicated object is deleted).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { metric, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const s3 = signer()
const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

describe('bucket folders edited by hand while the node runs', () => {
  const started: ServerProcess[] = []
  after(async () => { for (const n of started) await n.stop().catch(() => {}) })

  it('a node alone: a file copied in is an object; deleted, it is not, in listings, reads and /metrics', async () => {
    const node = await startServerProcess({ args: ['--scan-interval', '1'] })
    started.push(node)
    assert.equal((await s3.fetch(`${node.url}/photos`, { method: 'PUT' })).status, 200)
    const outside = join(await mkdtemp(join(tmpdir(), 's3mesh-outside-')), 'cat.jpg')
    const body = randomBytes(3000)
    await writeFile(outside, body)
    await copyFile(outside, join(node.dataDir, 'photos', 'cat.jpg'))
    await until('the copied file is listed', async () => (await (await s3.fetch(`${node.url}/photos?list-type=2`)).text()).includes('<Key>cat.jpg</Key>'), 10_000)
    assert.ok(Buffer.from(await (await s3.fetch(`${node.url}/photos/cat.jpg`)).arrayBuffer()).equals(body))
    await rm(join(node.dataDir, 'photos', 'cat.jpg'))
    await until('the deleted file is no longer listed', async () => !(await (await s3.fetch(`${node.url}/photos?list-type=2`)).text()).includes('<Key>cat.jpg</Key>'), 10_000)
    assert.equal((await s3.fetch(`${node.url}/photos/cat.jpg`)).status, 404)
    assert.equal((await s3.fetch(`${node.url}/photos/cat.jpg`, { method: 'HEAD' })).status, 404)
    assert.equal(await metric(node, 's3mesh_adopt_removed_files_total'), 1)
    await rm(outside, { force: true })
  })

  it('a mesh of two, two copies: a copy deleted by hand on one member comes back, and the object never stops being served', async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    const args = ['--membership', 'local', '--replicas', '2', '--scan-interval', '1']
    const a = await startServerProcess({ env, args })
    started.push(a)
    const b = await startServerProcess({ env, args: [...args, '--join', a.meshAddress!] })
    started.push(b)
    await until('the bucket on both', async () => {
      await s3.fetch(`${a.url}/docs`, { method: 'PUT' })
      return (await s3.fetch(`${b.url}/docs`, { method: 'HEAD' })).status === 200
    }, 15_000)
    const body = randomBytes(5000)
    const put = await s3.fetch(`${a.url}/docs/report.pdf`, { method: 'PUT', body })
    assert.equal(put.status, 200)
    assert.equal(put.headers.get('x-s3mesh-replicas'), '2', 'written to both')
    const onB = join(b.dataDir, 'docs', 'report.pdf')
    assert.ok(await exists(onB), 'b holds a copy')
    await rm(onB)
    assert.equal(await exists(onB), false, 'the copy is gone from b\'s folder')
    // Read through both members meanwhile: never missing.
    const reads: number[] = []
    await until('b notices and fetches its copy back', async () => {
      for (const n of [a, b]) reads.push((await s3.fetch(`${n.url}/docs/report.pdf`)).status)
      return await exists(onB) && await metric(b, 's3mesh_adopt_removed_files_total') === 1
    }, 30_000)
    assert.ok(reads.every(s => s === 200), `every read answered: ${reads.join(', ')}`)
    assert.ok((await readFile(onB)).equals(body), 'the same bytes')
    assert.match(await (await s3.fetch(`${b.url}/docs?list-type=2`)).text(), /<Key>report\.pdf<\/Key>/)
    // Again, with no read through b: its folder scan finds the copy gone, and its repair loop fetches it back.
    await rm(onB)
    await until('b\'s scan notices and its repair brings the copy back', async () => await exists(onB) && await metric(b, 's3mesh_adopt_removed_files_total') === 2, 30_000)
    assert.ok((await readFile(onB)).equals(body), 'the same bytes')
    assert.equal((await s3.fetch(`${a.url}/docs/report.pdf`)).status, 200)
  })
})
