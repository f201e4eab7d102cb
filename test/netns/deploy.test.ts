/**
 * The deployment of docs/deploy.md on a lab (lab.ts): three storage nodes on
 * three hosts and a relay on a fourth, 40 ms round trips and 1% loss between
 * every two of them, TLS from a private CA, the WAN membership preset. S3
 * clients run on a fifth host. Needs root for the namespaces (CI runs as root).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { makeTestCa, type TestCa } from '../helpers/test-ca.js'
import { until } from '../helpers/until.js'
import { createLab, type Lab } from './lab.js'
import { labClient, labClientStream, startTlsLabNode, type ClientLine, type LabNode } from './lab-nodes.js'

const ROOTED = process.getuid?.() === 0 || process.env.CI === 'true'

interface Member { id: string, role?: string, state: string, addresses: string[], meta: { url?: string } }

describe('a deployment on five hosts, 40 ms apart with 1% loss', { skip: !ROOTED ? 'needs root for network namespaces (CI runs as root)' : false }, () => {
  let lab: Lab
  let ca: TestCa
  let work: string
  const nodes: LabNode[] = []
  let relay: LabNode
  const key = randomBytes(32).toString('base64')

  const members = async (node: LabNode): Promise<Member[]> => {
    const [r] = await labClient(lab, 'client', ['signed-get', `${node.url}/_s3mesh/v1/members`], { ca: ca.certFile })
    if (r?.status !== 200) throw new Error(`members from ${node.host}: ${JSON.stringify(r)}`)
    return (JSON.parse(r.body!) as { members: Member[] }).members
  }

  before(async () => {
    lab = await createLab({ hosts: ['n1', 'n2', 'n3', 'relay', 'client'], rttMs: 40, loss: 0.01 })
    ca = await makeTestCa()
    work = await mkdtemp(join(tmpdir(), 's3mesh-deploy-'))
    const start = async (host: string, command: 'server' | 'relay', seed?: string): Promise<LabNode> => await startTlsLabNode(lab, host, { command, work, ca, key, ...(seed === undefined ? {} : { seed }) })
    nodes.push(await start('n1', 'server'))
    nodes.push(await start('n2', 'server', nodes[0]!.meshAddress))
    nodes.push(await start('n3', 'server', nodes[0]!.meshAddress))
    relay = await start('relay', 'relay', nodes[0]!.meshAddress)
    await until('every node lists three storage nodes and the relay alive', async () => {
      for (const n of nodes) if ((await members(n)).filter(m => m.state === 'alive').length !== 4) return false
      return true
    }, 60_000)
  })
  after(async () => {
    for (const n of [relay, ...nodes]) await n?.stop().catch(() => {})
    const stats = await lab?.close()
    process.stderr.write(`lab: ${JSON.stringify(stats)}\n`)
    await rm(work, { recursive: true, force: true })
    await rm(ca.dir, { recursive: true, force: true })
  })

  it('serves S3 over TLS on each host, names each node by its own address, and lists the relay as one', async () => {
    const list = await members(nodes[1]!)
    assert.deepEqual(list.map(m => m.role).sort(), ['durable', 'durable', 'durable', 'relay'])
    for (const n of [...nodes, relay]) {
      const m = list.find(x => x.id === n.id)!
      assert.ok(m.addresses[0]!.startsWith(`/ip4/${lab.address(n.host)}/`), `${n.host} is dialled at its own address first: ${m.addresses.join(' ')}`)
      assert.ok(m.addresses.every(a => !a.includes('0.0.0.0')))
      assert.ok(m.addresses.some(a => a.includes('/tls/ws/')), `${n.host} offers wss`)
    }
    assert.match(nodes[0]!.url, /^https:/)
    const put = await labClient(lab, 'client', ['put', nodes[0]!.url, 'deploy', 'hello-', '3', '4096'], { ca: ca.certFile })
    assert.deepEqual(put.map(p => p.status), [200, 200, 200])
    const got = await labClient(lab, 'client', ['get', nodes[2]!.url, 'deploy', ...put.map(p => p.key!)], { ca: ca.certFile })
    assert.deepEqual(got.map(g => g.sha256), put.map(p => p.sha256), 'read on another host, the same bytes')
    const [refused] = await labClient(lab, 'client', ['signed-get', `${relay.url}/deploy/hello-00000`], { ca: ca.certFile })
    assert.equal(refused!.status, 501, 'the relay holds no objects')
  })

  it('a node cut off in the middle of writes loses no acknowledged object, and catches up once it is back', async () => {
    const lines: ClientLine[] = []
    let cutAt = 0
    const writes = labClientStream(lab, 'client', ['put', nodes[0]!.url, 'deploy', 'cut-', '60', '16384', '2'], line => {
      lines.push(line)
      if (cutAt === 0 && lines.filter(l => l.status === 200).length === 15) {
        cutAt = Date.now()
        void lab.cut('n3')
      }
    }, { ca: ca.certFile })
    await writes.done
    const acked = lines.filter(l => l.status === 200)
    const afterCut = acked.filter(l => cutAt > 0 && l.at! > cutAt + 1000)
    // The precondition: n3 was cut while writes went on, and writes were acknowledged after it.
    assert.ok(cutAt > 0, 'the cut happened')
    assert.ok(afterCut.length >= 10, `writes acknowledged after the cut: ${afterCut.length} of ${acked.length} (failed: ${lines.filter(l => l.status !== 200).map(l => `${l.status} ${l.error ?? ''}`).join('; ')})`)
    const [cutOff] = await labClient(lab, 'client', ['signed-get', `${nodes[2]!.url}/health/live`], { ca: ca.certFile }).catch(() => [{ status: 0 }])
    assert.notEqual(cutOff?.status, 200, 'n3 is unreachable while cut')
    for (const n of nodes.slice(0, 2)) {
      const got = await labClient(lab, 'client', ['get-stdin', n.url, 'deploy'], { ca: ca.certFile, input: acked.map(a => a.key).join('\n') })
      const wrong = got.filter((g, i) => g.status !== 200 || g.sha256 !== acked[i]!.sha256)
      assert.deepEqual(wrong, [], `every acknowledged object reads back from ${n.host}, n3 being cut off`)
    }
    await lab.restore('n3')
    const caughtUp = await until('n3 serves every acknowledged object', async () => {
      const got = await labClient(lab, 'client', ['get-stdin', nodes[2]!.url, 'deploy'], { ca: ca.certFile, input: acked.map(a => a.key).join('\n') })
      return got.length === acked.length && got.every((g, i) => g.status === 200 && g.sha256 === acked[i]!.sha256)
    }, 90_000)
    const ms = acked.map(a => a.ms!).sort((a, b) => a - b)
    process.stderr.write(`deploy: ${acked.length} acknowledged (${afterCut.length} after the cut), ${lines.length - acked.length} failed; PUT median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms, slowest ${ms.at(-1)!.toFixed(0)} ms; n3 caught up ${caughtUp} ms after it came back\n`)
  })
})
