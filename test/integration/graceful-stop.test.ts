/**
 * A node told to stop (SIGTERM) while a PUT streams in: the request ends
 * first, with the mesh still running, so its copy is made at the replica and
 * announced before the node leaves; only then does it leave.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { after, describe, it } from 'node:test'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { signer } from '../helpers/s3-client.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const sign = signer()

describe('a node stopped while a PUT streams in', () => {
  let nodes: ServerProcess[] = []
  after(async () => { for (const n of nodes) await n.stop().catch(() => {}) })

  it('answers the PUT with both copies made and announced, then leaves', async () => {
    nodes = await startMeshProcesses(3)
    const [a, b, c] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    assert.equal((await sign.fetch(`${a.url}/stopping`, { method: 'PUT' })).status, 200)
    const body = randomBytes(256 * 1024)
    const signed = await sign.sign(`${a.url}/stopping/streamed.bin`, { method: 'PUT', headers: { 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    const headers: Record<string, string> = {}
    signed.headers.forEach((v, k) => { headers[k] = v })
    const url = new URL(signed.url)
    // A client that keeps its connection for a minute, as SDKs do: the node must not wait for it to let go.
    const agent = new Agent({ keepAlive: true, timeout: 60_000 })
    const answered = new Promise<{ status: number, replicas: string | undefined, connection: string | undefined, text: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers, agent }, res => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, replicas: res.headers['x-s3mesh-replicas'] as string | undefined, connection: res.headers.connection, text }) })
      })
      req.on('error', reject)
      // Half the body, then the signal, then the rest.
      req.write(body.subarray(0, body.length / 2))
      setTimeout(() => {
        a.child.kill('SIGTERM')
        setTimeout(() => { req.end(body.subarray(body.length / 2)) }, 500)
      }, 200)
    })
    const exited = new Promise<number | null>(resolve => a.child.once('exit', code => { resolve(code) }))
    const put = await answered
    const answeredAt = Date.now()
    assert.equal(put.status, 200, put.text)
    assert.equal(put.replicas, '2', 'the copy at the replica was made before the node stopped')
    assert.equal(put.connection, 'close', 'the answer closes its connection')
    // Every other node hears of it (the one that is no replica only from the announcement), soon: a blocking locate.
    for (const n of [b, c]) {
      const where = await (await sign.fetch(`${n.url}/_s3mesh/v1/locate/stopping/streamed.bin?wait=3000`)).json() as { holders?: Array<{ id: string }> }
      assert.equal(where.holders?.length, 2, `${n.url} lists it with its two holders: the write was announced`)
    }
    assert.equal(await exited, 0, 'then it stopped cleanly')
    // Its kept-alive connection was ended once the answer went out: the node did not wait out its 10 s grace.
    assert.ok(Date.now() - answeredAt < 8_000, `stopped ${Date.now() - answeredAt} ms after the answer`)
    agent.destroy()
    const got = await sign.fetch(`${b.url}/stopping/streamed.bin`)
    assert.equal(got.status, 200)
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body))
    // It left rather than failed.
    const { members } = await (await sign.fetch(`${b.url}/_s3mesh/v1/members`)).json() as { members: Array<{ state: string }> }
    assert.ok(members.some(m => m.state === 'left'), JSON.stringify(members))
  })

  it('answers a PUT that expects 100-continue on the S3 port and on the console\'s /s3 (what the drain listens for takes no request from either)', async () => {
    const node = await startServerProcess()
    nodes.push(node)
    assert.equal((await sign.fetch(`${node.url}/continued`, { method: 'PUT' })).status, 200)
    for (const base of [node.url, `${node.consoleUrl!}/s3`]) {
      const body = Buffer.from(`sent after 100-continue to ${base}`)
      const signed = await sign.sign(`${base}/continued/k`, { method: 'PUT', headers: { 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', expect: '100-continue' } })
      const headers: Record<string, string> = {}
      signed.headers.forEach((v, k) => { headers[k] = v })
      const url = new URL(signed.url)
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers, timeout: 10_000 }, res => { res.resume(); res.on('end', () => { resolve(res.statusCode ?? 0) }) })
        req.on('continue', () => { req.end(body) })
        req.on('timeout', () => { req.destroy(new Error(`no answer from ${base}`)) })
        req.on('error', reject)
      })
      assert.equal(status, 200, base)
      assert.equal(await (await sign.fetch(`${node.url}/continued/k`)).text(), body.toString())
    }
  })

  it('stops as SIGTERM has it on SIGHUP when there is no certificate to reload (the terminal it ran in closed), a PUT under way answered, a second SIGHUP no reason to stop at once', async () => {
    const node = await startServerProcess()
    nodes.push(node)
    assert.equal((await sign.fetch(`${node.url}/hangup`, { method: 'PUT' })).status, 200)
    const body = randomBytes(64 * 1024)
    const signed = await sign.sign(`${node.url}/hangup/k`, { method: 'PUT', headers: { 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    const headers: Record<string, string> = {}
    signed.headers.forEach((v, k) => { headers[k] = v })
    const url = new URL(signed.url)
    const exited = new Promise<number | null>(resolve => node.child.once('exit', code => { resolve(code) }))
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers }, res => { res.resume(); res.on('end', () => { resolve(res.statusCode ?? 0) }) })
      req.on('error', reject)
      // Half the body; then SIGHUP twice, as a closing terminal may send it; then the rest.
      req.write(body.subarray(0, body.length / 2))
      setTimeout(() => {
        node.child.kill('SIGHUP')
        setTimeout(() => { node.child.kill('SIGHUP') }, 100)
        setTimeout(() => { req.end(body.subarray(body.length / 2)) }, 400)
      }, 200)
    })
    assert.equal(status, 200, 'the PUT under way was answered')
    const code = await exited
    assert.deepEqual([code, node.child.signalCode], [0, null], 'it stopped by itself, not killed by the signal nor at once by the second')
    assert.match(node.output(), /SIGHUP, finishing requests in flight/)
  })
})
