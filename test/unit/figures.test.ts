/**
 * The figures check (npm run check:figures) must fire: on a throwaway
 * project with one benchmark, each way a published figure can stop being
 * a kept result of the current script is caught.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fingerprint } from '../../bench/lib/fingerprint.js'
import { figures } from '../../bench/lib/figures.js'

const README = `# demo

<!-- bench demo speed -->
| x | ops/s |
| --- | ---: |
| a | 120 |
<!-- /bench -->

It runs at 1.5x (1.2-1.8)<!-- fig demo ratio --> of the baseline, against a goal of 2x<!-- param -->.
`

describe('the figures check', () => {
  let root: string
  const write = async (path: string, text: string): Promise<void> => { await writeFile(join(root, path), text) }
  const problems = async (): Promise<string[]> => (await figures(root)).problems

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 's3mesh-figures-'))
    await mkdir(join(root, 'bench', 'demo'), { recursive: true })
    await mkdir(join(root, 'bench', 'results'))
    await write('bench/demo/run.ts', 'export const measured = 1\n')
    await write('bench/demo/report.ts', 'export const tables = { speed: (doc: { ops: number }) => `| x | ops/s |\\n| --- | ---: |\\n| a | ${doc.ops} |` }\n')
    const script = (await fingerprint('demo', join(root, 'bench'))).sha256
    await write('bench/results/demo.json', JSON.stringify({ bench: 'demo', quick: false, script, ops: 120, ratio: { median: 1.5, min: 1.2, max: 1.8 } }))
    await write('README.md', README)
  })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  it('passes when every table and figure is the kept result of the current script', async () => {
    assert.deepEqual(await problems(), [])
  })

  it('refuses a figure in prose that differs from the kept result', async () => {
    await write('README.md', README.replace('1.5x (1.2-1.8)', '1.6x (1.2-1.8)'))
    assert.match((await problems()).join('\n'), /"1\.6x \(1\.2-1\.8\)<!-- fig demo ratio -->" but bench\/results\/demo\.json has ratio = median 1\.5/)
    await write('README.md', README)
  })

  it('refuses a table that differs from its rendering', async () => {
    await write('README.md', README.replace('| a | 120 |', '| a | 150 |'))
    assert.match((await problems()).join('\n'), /the table differs/)
    await write('README.md', README)
  })

  it('refuses a measurement quoted without a marker', async () => {
    await write('README.md', `${README}\nAnd it is 3x faster than before, at 40 ms.\n`)
    const found = (await problems()).join('\n')
    assert.match(found, /"3x" is not marked/)
    assert.match(found, /"40 ms" is not marked/)
    await write('README.md', README)
  })

  it('refuses a result made by another version of its script, or by a --quick run', async () => {
    await write('bench/demo/run.ts', 'export const measured = 2\n')
    assert.match((await problems()).join('\n'), /was made by another version of bench\/demo/)
    await write('bench/demo/run.ts', 'export const measured = 1\n')
    const doc = JSON.parse(await readFile(join(root, 'bench/results/demo.json'), 'utf8')) as Record<string, unknown>
    await write('bench/results/demo.json', JSON.stringify({ ...doc, quick: true }))
    assert.match((await problems()).join('\n'), /is a --quick run/)
    await write('bench/results/demo.json', JSON.stringify(doc))
    assert.deepEqual(await problems(), [])
  })

  it('rewrites tables and figures from the kept results when asked', async () => {
    await write('README.md', README.replace('1.5x (1.2-1.8)', '9.9x').replace('| a | 120 |', '| a | 1 |'))
    assert.deepEqual((await figures(root, { write: true })).problems, [])
    assert.equal(await readFile(join(root, 'README.md'), 'utf8'), README)
  })
})
