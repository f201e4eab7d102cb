/**
 * Restarts remember deletes: a member that was away while an object was
 * deleted must not bring it back, even when every other member restarted
 * (crashed, even) before it returned. The catalog on disk is what remembers.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { DatabaseSync } from 'node:sqlite'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { aliveEverywhere } from '../helpers/mesh-processes.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'
import { signer } from '../helpers/s3-client.js'

const sign = signer()


describe('a restart of the whole cluster', () => {
  const running: ServerProcess[] = []
  after(async () => { for (const n of running) await n.stop().catch(() => {}) })

  it('does not bring back an object deleted while a member was away', async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    const args = ['--membership', 'local', '--replicas', '2']
    let a = await startServerProcess({ env, args })
    let b = await startServerProcess({ env, args: [...args, '--join', a.meshAddress!] })
    running.push(a, b)
    await aliveEverywhere([a, b])
    assert.equal((await sign.fetch(`${a.url}/keep`, { method: 'PUT' })).status, 200)
    for (const key of ['gone.txt', 'kept.txt']) {
      const put = await sign.fetch(`${a.url}/keep/${key}`, { method: 'PUT', body: `the ${key}` })
      assert.equal(put.headers.get('x-s3mesh-replicas'), '2')
    }
    assert.ok(existsSync(join(b.dataDir, 'keep', 'gone.txt')), 'b holds a copy')

    // b goes away; the object is deleted; then a crashes (no graceful shutdown to save anything).
    await b.stop({ remove: false })
    assert.equal((await sign.fetch(`${a.url}/keep/gone.txt`, { method: 'DELETE' })).status, 204)
    await a.stop({ remove: false, signal: 'SIGKILL' })
    running.length = 0

    // b comes back first, alone, with its stale copy; then a.
    b = await startServerProcess({ dataDir: b.dataDir, env, args })
    running.push(b)
    a = await startServerProcess({ dataDir: a.dataDir, env, args: [...args, '--join', b.meshAddress!] })
    running.push(a)
    await aliveEverywhere([a, b])

    for (const n of [a, b]) {
      await until(`${n.url} answers 404 for the deleted object`, async () => (await sign.fetch(`${n.url}/keep/gone.txt`)).status === 404)
      const kept = await sign.fetch(`${n.url}/keep/kept.txt`)
      assert.equal(kept.status, 200)
      assert.equal(await kept.text(), 'the kept.txt')
      const list = await (await sign.fetch(`${n.url}/keep?list-type=2`)).text()
      assert.ok(!list.includes('gone.txt') && list.includes('kept.txt'), `listed on ${n.url}: ${list}`)
    }
    await until('the stale file is removed from b\'s folder', () => !existsSync(join(b.dataDir, 'keep', 'gone.txt')))
  })

  it('keeps the catalog on disk, and a member restarted after a crash drops its claim on a copy that is gone', async () => {
    const args = ['--membership', 'local', '--replicas', '1']
    let a = await startServerProcess({ args })
    running.push(a)
    assert.equal((await sign.fetch(`${a.url}/claims`, { method: 'PUT' })).status, 200)
    for (const key of ['lost.txt', 'kept.txt']) assert.equal((await sign.fetch(`${a.url}/claims/${key}`, { method: 'PUT', body: `the ${key}` })).status, 200)
    // A crash: the next start checks the claims against the store (after a clean stop it would not need to).
    await a.stop({ remove: false, signal: 'SIGKILL' })
    running.splice(running.indexOf(a), 1)
    assert.ok(existsSync(join(a.dataDir, '.s3mesh', 'catalog.db')) && !existsSync(join(a.dataDir, '.s3mesh', 'catalog.journal')), 'the catalog is in catalog.db')
    const checkedMark = (): boolean => {
      const db = new DatabaseSync(join(a.dataDir, '.s3mesh', 'catalog.db'))
      try { return db.prepare("SELECT value FROM info WHERE name = 'checked-in-session'").get() !== undefined } finally { db.close() }
    }
    assert.equal(checkedMark(), false, 'a crash leaves no mark that the claims were checked')
    // The copy goes while the node is down, its metadata row with it (a damaged disk, a restore from an older backup).
    await rm(join(a.dataDir, 'claims', 'lost.txt'))
    const meta = new DatabaseSync(join(a.dataDir, '.s3mesh', 'meta.db'))
    assert.equal(meta.prepare("DELETE FROM objects WHERE bucket = 'claims' AND key = 'lost.txt'").run().changes, 1)
    meta.close()

    a = await startServerProcess({ dataDir: a.dataDir, args })
    running.push(a)
    const self = ((await (await sign.fetch(`${a.url}/_s3mesh/v1/members`)).json()) as { self?: string, members: Array<{ id: string }> }).members[0]!.id
    const holders = async (key: string): Promise<string[]> => ((await (await sign.fetch(`${a.url}/_s3mesh/v1/locate/claims/${key}`)).json()) as { holders: Array<{ id: string }> }).holders.map(h => h.id)
    await until('the claim on the lost copy is dropped', async () => (await holders('lost.txt')).length === 0)
    assert.deepEqual(await holders('kept.txt'), [self], 'the claim on the kept copy stays')
    const kept = await sign.fetch(`${a.url}/claims/kept.txt`)
    assert.equal(await kept.text(), 'the kept.txt')
    // Stopped cleanly once the check ran: the next start need not walk the store again...
    await a.stop({ remove: false })
    running.splice(running.indexOf(a), 1)
    assert.equal(checkedMark(), true, 'a clean stop after the check leaves the mark')
    // ...unless something else opened the store in between: here a run without the mesh deletes the object.
    const alone = await startServerProcess({ dataDir: a.dataDir, args: ['--no-mesh'] })
    running.push(alone)
    assert.equal((await sign.fetch(`${alone.url}/claims/kept.txt`, { method: 'DELETE' })).status, 204)
    await alone.stop({ remove: false })
    running.splice(running.indexOf(alone), 1)
    a = await startServerProcess({ dataDir: a.dataDir, args })
    running.push(a)
    await until('the claim on the object deleted by the run without the mesh is dropped', async () => (await holders('kept.txt')).length === 0)
    // The node holds catalog.db exclusively while it runs: the mark is read once it has crashed.
    await a.stop({ remove: false, signal: 'SIGKILL' })
    running.splice(running.indexOf(a), 1)
    assert.equal(checkedMark(), false, 'the mark is taken at start (a crash from here is a crash)')
  })
})
