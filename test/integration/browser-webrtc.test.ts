/**
 * Browser to browser over WebRTC. Chromium never offers a loopback ICE
 * candidate, so the test runs inside a network namespace with a veth pair
 * (see NOTES.md), which needs root: CI runs as root. test/netns/browser-webrtc.ts
 * is the test itself.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const INNER = fileURLToPath(new URL('../netns/browser-webrtc.ts', import.meta.url))
const SETUP = 'ip link set lo up && ip link add veth0 type veth peer name veth1 && ' +
  'ip addr add 198.18.0.1/24 dev veth0 && ip addr add 198.18.0.2/24 dev veth1 && ' +
  'ip link set veth0 up && ip link set veth1 up && ip route add default via 198.18.0.2 dev veth0 && exec "$@"'

describe('browser to browser', () => {
  it('two tabs of two users connect over WebRTC inside a network namespace, and each gets from the other only what its user may read', async (t) => {
    if (process.getuid?.() !== 0 && process.env.CI !== 'true') { t.skip('needs root for a network namespace (CI runs as root)'); return }
    // Without NODE_TEST_CONTEXT: node --test inside a test run would otherwise skip its files.
    const env = { ...process.env }
    delete env.NODE_TEST_CONTEXT
    const child = spawn('unshare', ['--net', 'sh', '-c', SETUP, 'sh', process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', INNER], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
    assert.equal(code, 0, out)
    assert.match(out, /ℹ pass 1\b/, 'the test inside the namespace ran')
  })
})
