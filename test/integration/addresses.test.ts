/**
 * What a node tells others about where it is: every interface's address when
 * it listens on 0.0.0.0 (never 0.0.0.0 itself), and --announce / --public-url
 * for a node behind NAT or a reverse proxy, in the banner, the member list
 * and the answer a tab gets when it joins.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { networkInterfaces } from 'node:os'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { noise } from '@libp2p/noise'
import { webRTCDirect } from '@libp2p/webrtc'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, BIN, SECRET_KEY, startServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

interface Member { id: string, self?: true, addresses: string[], meta: { url?: string } }

async function members (url: string): Promise<Member[]> {
  return ((await (await signer().fetch(`${url}/_s3mesh/v1/members`)).json()) as { members: Member[] }).members
}

/** A free TCP port whose next one is free too (the node's WebSockets). */
async function freePair (): Promise<number> {
  const { createServer } = await import('node:net')
  for (;;) {
    const port = await new Promise<number>(resolve => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) }) })
    const next = await new Promise<boolean>(resolve => { const s = createServer().once('error', () => { resolve(false) }).listen(port + 1, '127.0.0.1', () => { s.close(() => { resolve(true) }) }) })
    if (next && port < 65535) return port
  }
}

describe('addresses a node announces', () => {
  it('listening on 0.0.0.0, names each interface (loopback last) in its banner and member entry, never 0.0.0.0', async (t) => {
    const external = Object.values(networkInterfaces()).flatMap(l => l ?? []).find(i => i.family === 'IPv4' && !i.internal)?.address
    if (external === undefined) { t.skip('this machine has no interface but loopback'); return }
    const node = await startServerProcess({ args: ['--address', '0.0.0.0:0', '--mesh-address', '0.0.0.0:0', '--console-address', '127.0.0.1:0'] })
    t.after(async () => { await node.stop() })
    const out = node.output()
    // Only the suggested command for another machine says 0.0.0.0 (where that one listens).
    assert.doesNotMatch(out.replace(/--address 0\.0\.0\.0:9000 --mesh-address 0\.0\.0\.0:9100/, ''), /0\.0\.0\.0/, out)
    assert.equal(new URL(node.url).hostname, external, 'the S3 line names a real interface')
    assert.match(out, /\(also http:\/\/127\.0\.0\.1:\d+\)/)
    assert.match(out, /Add a node to this mesh \(on another machine\)/)
    const self = (await members(node.url)).find(m => m.self === true)!
    assert.ok(self.addresses.length >= 4, self.addresses.join(' '))
    assert.ok(self.addresses.every(a => !a.includes('/0.0.0.0/')))
    assert.ok(self.addresses[0]!.startsWith(`/ip4/${external}/`), 'a real interface first')
    assert.ok(self.addresses.at(-1)!.startsWith('/ip4/127.0.0.1/'), 'loopback last')
    assert.equal(self.meta.url, node.url, 'its S3 endpoint is in its member entry')
  })

  it('with --address 0.0.0.0 alone the mesh listens on this machine only: the banner says so, and its command for a second node names its own console port', async (t) => {
    const node = await startServerProcess({ args: ['--address', '0.0.0.0:0', '--console-address', '127.0.0.1:0'] })
    t.after(async () => { await node.stop() })
    const out = node.output()
    assert.match(out, /Add a node to this mesh \(another folder and ports on this machine\)/)
    assert.doesNotMatch(out, /on another machine/, 'no command that would join 127.0.0.1 from elsewhere')
    assert.match(out, /--address 127\.0\.0\.1:9010 --console-address 127\.0\.0\.1:9011 --mesh-address 127\.0\.0\.1:9110/)
    assert.match(out, /The mesh listens on this machine only: for nodes on other machines, start with --mesh-address 0\.0\.0\.0:9100/)
  })

  it('--announce and --public-url replace the listened addresses in the banner, the member list and a tab\'s join answer', async (t) => {
    const port = await freePair()
    const announced = ['/dns4/mesh.example.com/tcp/443/tls/ws', '/ip4/203.0.113.5/tcp/9100', '/ip4/203.0.113.5/udp/9100/webrtc-direct']
    const first = await startServerProcess({ args: ['--mesh-address', `127.0.0.1:${port}`, ...announced.flatMap(a => ['--announce', a]), '--public-url', 'https://s3.example.com/'] })
    t.after(async () => { await first.stop() })
    const out = first.output()
    assert.match(out, /S3 API:\s+https:\/\/s3\.example\.com\n\s+\(listening on http:\/\/127\.0\.0\.1:\d+\)/)
    assert.match(out, /--join \/ip4\/203\.0\.113\.5\/tcp\/9100\/p2p\/12D3Koo/, 'the join line uses the announced address')
    assert.doesNotMatch(out, /\/ip4\/127\.0\.0\.1\/tcp\//, 'listened addresses are not printed')
    // The S3 requests of this test go where the node listens; the public URL is for clients outside.
    const local = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!
    const id = /Mesh peer:\s+(\S+)/.exec(out)![1]!
    const key = /Cluster key:\s+(\S+)/.exec(out)![1]!
    const second = await startServerProcess({ args: ['--join', `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`], env: { S3MESH_CLUSTER_KEY: key } })
    t.after(async () => { await second.stop() })
    await until('the second node lists the first', async () => (await members(second.url)).some(m => m.id === id))
    const seen = (await members(second.url)).find(m => m.id === id)!
    // libp2p adds the WebRTC-direct address's /certhash/ itself.
    assert.deepEqual(seen.addresses.map(a => a.replace(/\/certhash\/[^/]+/, '')), announced.map(a => `${a}/p2p/${id}`), 'others are told the announced addresses, in order')
    assert.match(seen.addresses[2]!, /\/webrtc-direct\/certhash\/u/)
    assert.equal(seen.meta.url, 'https://s3.example.com')

    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const res = await signer().fetch(`${local}/_s3mesh/v1/browser-join?peer=${peer}`)
    assert.equal(res.status, 200)
    const joinAnswer = await res.json() as { relays: string[] }
    assert.deepEqual(joinAnswer.relays.map(a => a.replace(/\/certhash\/[^/]+/, '')), [`${announced[0]}/p2p/${id}`, `${announced[2]}/p2p/${id}`], 'a tab is sent to the announced WebSockets and WebRTC-direct addresses')
  })

  it('listens on WebRTC-direct with a certificate kept across restarts, offers it to tabs, and a peer connects over it', async (t) => {
    const node = await startServerProcess()
    const direct = (): string => /^\s+(\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/\S+)$/m.exec(node.output())![1]!
    const first = direct()
    const certhash = (a: string): string => /\/certhash\/([^/]+)/.exec(a)![1]!
    const peer = await createLibp2p({ transports: [webRTCDirect()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false } })
    t.after(async () => { await peer.stop(); await node.stop() })
    const conn = await peer.dial(multiaddr(first))
    assert.match(conn.remoteAddr.toString(), /\/webrtc-direct\//)
    const joinPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const answer = await (await signer().fetch(`${node.url}/_s3mesh/v1/browser-join?peer=${joinPeer}`)).json() as { relays: string[] }
    assert.ok(answer.relays.some(r => r.includes('/ws/')) && answer.relays.some(r => r.includes('/webrtc-direct/')), answer.relays.join(' '))
    await conn.close()
    await node.stop({ remove: false })
    const again = await startServerProcess({ dataDir: node.dataDir })
    t.after(async () => { await again.stop() })
    const second = /^\s+(\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/\S+)$/m.exec(again.output())![1]!
    assert.equal(certhash(second), certhash(first), 'the same certificate after a restart: addresses handed out stay valid')
    await again.stop({ remove: false })
    // A damaged certificate file is not replaced quietly: that would change every address handed out.
    const file = join(node.dataDir, '.s3mesh', 'webrtc-direct.json')
    await writeFile(file, '{"privateKey": "x"')
    await assert.rejects(startServerProcess({ dataDir: node.dataDir }), /webrtc-direct\.json is damaged: delete it/)
  })

  it('explains a bad --announce or --public-url', () => {
    const run = (args: string[]): string => {
      const r = spawnSync(process.execPath, [BIN, 'server', '/tmp/s3mesh-never', ...args], { env: { ...process.env, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY }, encoding: 'utf8', timeout: 20_000 })
      assert.notEqual(r.status, 0)
      return r.stderr
    }
    assert.match(run(['--announce', '/ip4/0.0.0.0/tcp/9100']), /names no machine \(0\.0\.0\.0\)/)
    assert.match(run(['--announce', 'mesh.example.com:9100']), /is not a multiaddr others can dial/)
    assert.match(run(['--announce', '/ip4/999.1.1.1/tcp/9100']), /is not a multiaddr others can dial/)
    assert.match(run(['--announce', '/ip4/203.0.113.5/tcp/99999']), /is not a multiaddr others can dial/)
    assert.match(run(['--announce', '/ip6/0:0:0:0:0:0:0:0/tcp/9100']), /names no machine/)
    assert.match(run(['--announce', '/dns4/mesh.example.com/udp/9100/webrtc-direct']), /needs an IP address/)
    assert.match(run(['--public-url', 'ftp://x']), /must start with http:\/\/ or https:\/\//)
    assert.match(run(['--public-url', 'https://s3.example.com/bucket']), /must be a bare origin/)
  })
})
