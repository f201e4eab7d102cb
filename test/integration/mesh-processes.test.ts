/** Real `s3mesh server` processes forming a mesh: joins, kill -9, restart, SIGTERM, and a node with the wrong cluster key. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { LOCAL } from '../../src/core/membership/config.js'
import { suspicionTimeout } from '../../src/core/membership/suspicion.js'
import type { MemberView } from '../../src/gateway/mesh-api.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const sign = signer()
const CLUSTER_KEY = randomBytes(32).toString('base64')

async function members (node: ServerProcess): Promise<MemberView[]> {
  const res = await sign.fetch(`${node.url}/_s3mesh/v1/members`)
  assert.equal(res.status, 200)
  return ((await res.json()) as { members: MemberView[] }).members
}

const stateIn = async (observer: ServerProcess, id: string): Promise<string | undefined> => (await members(observer)).find(m => m.id === id)?.state

describe('a mesh of real s3mesh processes', () => {
  const nodes: ServerProcess[] = []
  after(async () => { for (const n of nodes) await n.stop().catch(() => {}) })

  it('five nodes through one seed; kill -9 is failed, a restart rejoins, SIGTERM is left, a wrong key is refused', async (t) => {
    const env = { S3MESH_CLUSTER_KEY: CLUSTER_KEY }
    const args = ['--membership', 'local']
    const seed = await startServerProcess({ env, args })
    nodes.push(seed)
    assert.ok(seed.meshAddress, 'the banner shows the mesh address')
    for (let i = 0; i < 4; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', seed.meshAddress!] }))
    const ids = await Promise.all(nodes.map(async n => (await members(n)).find(m => m.self === true)!.id))
    await until('all five see all five alive', async () => {
      for (const n of nodes) {
        const list = await members(n)
        if (!ids.every(id => list.find(m => m.id === id)?.state === 'alive')) return false
      }
      return true
    }, 20_000)

    // kill -9: the survivors mark it failed within a probe interval plus the longest suspicion.
    const victim = nodes[2]!
    const bound = LOCAL.probeIntervalMs * 2 + LOCAL.suspicionMaxTimeoutMult * suspicionTimeout(LOCAL.suspicionMult, 5, LOCAL.probeIntervalMs) + 2_000
    await victim.stop({ remove: false, signal: 'SIGKILL' })
    const survivors = nodes.filter(n => n !== victim)
    const detected = await until('every survivor marks the killed node failed', async () => {
      for (const n of survivors) if (await stateIn(n, ids[2]!) !== 'failed') return false
      return true
    }, bound)
    t.diagnostic(`kill -9 detected by all survivors in ${detected} ms (bound ${bound} ms)`)

    // Restarted on the same data folder: the same peer id comes back and is alive everywhere.
    const back = await startServerProcess({ dataDir: victim.dataDir, env, args: [...args, '--join', seed.meshAddress!] })
    nodes[2] = back
    assert.equal((await members(back)).find(m => m.self === true)!.id, ids[2], 'the peer id is kept in the data folder')
    await until('the restarted node is alive everywhere', async () => {
      for (const n of nodes) if (await stateIn(n, ids[2]!) !== 'alive') return false
      return true
    }, 20_000)

    // SIGTERM: a graceful leave.
    const leaver = nodes[4]!
    assert.equal(await leaver.stop({ remove: false }), 0)
    await until('every other node marks the stopped node left', async () => {
      for (const n of nodes.slice(0, 4)) if (await stateIn(n, ids[4]!) !== 'left') return false
      return true
    }, 10_000)

    // A node with another key is refused: in nobody's list, its messages dropped and counted.
    const stranger = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: [...args, '--join', seed.meshAddress!] })
    nodes.push(stranger)
    const strangerId = (await members(stranger)).find(m => m.self === true)!.id
    await new Promise(resolve => setTimeout(resolve, 3_000))
    for (const n of nodes.slice(0, 4)) assert.equal(await stateIn(n, strangerId), undefined)
    assert.deepEqual((await members(stranger)).map(m => m.id), [strangerId])
    const metrics = await (await fetch(`${seed.url}/metrics`)).text()
    assert.match(metrics, /s3mesh_membership_dropped_messages_total\{reason="wrong-key"\} [1-9]/)
    // Both operators are told why, in plain words: the seed once for the peer it refused, the stranger that it runs alone.
    const refusals = seed.output().split('\n').filter(line => line.includes(`refused ${strangerId}`))
    assert.equal(refusals.length, 1, `the seed says once that it refused the stranger:\n${seed.output()}`)
    assert.match(refusals[0]!, /sealed with another cluster key or cluster name\. To let it in, start it with this cluster's S3MESH_CLUSTER_KEY and --cluster s3mesh\./)
    await until('the stranger says it runs alone', () => /no member there answered as one of this cluster in 10 s: this node runs alone\. Check that S3MESH_CLUSTER_KEY/.test(stranger.output()), 20_000)
    // Updates travelled on the cluster's gossipsub topic, not only piggybacked on probes.
    const others = await Promise.all(nodes.slice(1, 4).map(async n => await (await fetch(`${n.url}/metrics`)).text()))
    assert.ok(others.some(m => /^s3mesh_membership_pubsub_updates_total [1-9]/m.test(m)), 'updates arrived over gossipsub')
    assert.ok([metrics, ...others].some(m => /^s3mesh_membership_published_updates_total [1-9]/m.test(m)), 'updates were published')
  })
})
