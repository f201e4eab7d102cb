import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'

// DESIGN.md: src/core and src/s3-shim run in browsers and edge runtimes. The lint
// rule that keeps them Web-standard must actually fire; this proves it does.
describe('layer rule', () => {
  const eslint = new ESLint()
  const problems = async (file: string, code: string): Promise<string[]> =>
    (await eslint.lintText(code, { filePath: file }))[0]!.messages.map(m => m.ruleId ?? '')

  it('refuses node: imports and platform globals in src/core and src/s3-shim', async () => {
    assert.ok((await problems('src/core/x.ts', "import { readFile } from 'node:fs/promises'\nexport const f = readFile\n")).includes('no-restricted-imports'))
    assert.ok((await problems('src/s3-shim/x.ts', "import { createHash } from 'crypto'\nexport const f = createHash\n")).includes('no-restricted-imports'))
    assert.ok((await problems('src/core/x.ts', 'export const f = (): unknown => Buffer.from([1])\n')).includes('no-restricted-globals'))
    assert.ok((await problems('src/s3-shim/x.ts', 'export const f = (): unknown => window.location\n')).includes('no-restricted-globals'))
  })

  it('refuses S3 clients that retry by default (aws4fetch, the AWS SDK) anywhere but the one signer', async () => {
    const aws4fetch = "import { AwsClient } from 'aws4fetch'\nexport const c = new AwsClient({ accessKeyId: 'a', secretAccessKey: 'b' })\n"
    assert.ok((await problems('test/integration/x.test.ts', aws4fetch)).includes('no-restricted-syntax'))
    assert.ok((await problems('bench/x/run.ts', aws4fetch)).includes('no-restricted-syntax'))
    assert.deepEqual(await problems('src/core/s3-signer.ts', aws4fetch), [])
    const sdk = (extra: string): string => `import { S3Client } from '@aws-sdk/client-s3'\nexport const c = new S3Client({ region: 'us-east-1'${extra} })\n`
    assert.ok((await problems('test/integration/x.test.ts', sdk(''))).includes('no-restricted-syntax'))
    assert.deepEqual(await problems('test/integration/x.test.ts', sdk(', maxAttempts: 1')), [])
  })

  it('refuses imports that point up: from src/core or src/s3-shim into an adapter, the gateway or the console, relative paths included', async () => {
    const up = async (file: string, from: string): Promise<boolean> => (await problems(file, `import { x } from '${from}'\nexport const y = x\n`)).includes('no-restricted-imports')
    assert.ok(await up('src/core/mesh/x.ts', '../../node/mesh.js'))
    assert.ok(await up('src/core/x.ts', '../browser/page-node.js'))
    assert.ok(await up('src/core/x.ts', '../s3-shim/handler.js'))
    assert.ok(await up('src/s3-shim/ops/x.ts', '../../edge/worker.js'))
    assert.ok(await up('src/s3-shim/x.ts', '../gateway/gateway-store.js'))
    assert.ok(await up('src/s3-shim/x.ts', '../../demo/main.js'))
    assert.ok(await up('src/core/x.ts', 's3mesh/node'))
    assert.ok(await up('src/gateway/x.ts', '../node/server.js'))
    // Down, or sideways within the layer, is fine.
    assert.equal(await up('src/s3-shim/x.ts', '../core/errors.js'), false)
    assert.equal(await up('src/core/mesh/x.ts', '../membership/node-meta.js'), false)
    assert.equal(await up('src/node/x.ts', '../core/errors.js'), false)
  })

  it('allows them in the platform adapters', async () => {
    assert.deepEqual(await problems('src/node/x.ts', "import { readFile } from 'node:fs/promises'\nexport const f = readFile\n"), [])
  })
})
