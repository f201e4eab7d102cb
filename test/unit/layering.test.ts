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

  it('allows them in the platform adapters', async () => {
    assert.deepEqual(await problems('src/node/x.ts', "import { readFile } from 'node:fs/promises'\nexport const f = readFile\n"), [])
  })
})
