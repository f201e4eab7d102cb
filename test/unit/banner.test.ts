/**
 * The start banner's commands, pasted into a shell as they are printed: a
 * root user or secret with characters a shell reads (`$`, `;`, `'`) is
 * quoted, and a secret from the environment is not printed.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { banner } from '../../src/node/banner.js'
import type { RunningServer } from '../../src/node/server.js'

function printed (accessKey: string, secretKey: string, source: 'environment' | 'file'): string {
  const server = { url: 'http://127.0.0.1:9000', urls: ['http://127.0.0.1:9000'], role: 'durable', credentials: { accessKey, secretKey, source, file: '/data/.s3mesh/credentials.json' } } as unknown as RunningServer
  return banner(server, './data', '1.0.0', '127.0.0.1')
}

describe('the start banner', () => {
  it('quotes the keys in its aws-cli command so that a shell takes them as they are, and prints no secret from the environment', () => {
    const out = printed("ops$HOME;it's", "s3cret'$(x)", 'file')
    const line = /^ {2}export (.*)$/m.exec(out)![1]!
    // What a shell makes of the command: the keys exactly.
    const seen = execFileSync('sh', ['-c', `export ${line}; printf '%s\\n%s' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"`], { encoding: 'utf8' })
    assert.equal(seen, "ops$HOME;it's\ns3cret'$(x)")
    const env = printed('admin', 'from-the-environment', 'environment')
    assert.ok(!env.includes('from-the-environment'), 'the secret from the environment is not printed')
    assert.match(env, /AWS_SECRET_ACCESS_KEY="\$S3MESH_ROOT_PASSWORD"/)
    assert.match(env, /AWS_ACCESS_KEY_ID=admin /, 'a plain key as it is')
  })
})
