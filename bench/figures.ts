/**
 * The README's (and docs/'s) figures are the kept results of the benchmarks
 * in bench/, run on the current scripts. This checks it, and with --write
 * makes it so.
 *
 *   npm run check:figures     # part of npm test: fails on any mismatch
 *   npm run bench:figures     # after rerunning a benchmark: rewrites the marked tables and figures
 *
 * What it reads, in README.md and docs/ (outside code):
 *   <!-- bench NAME TABLE -->          a table rendered from bench/results/NAME.json
 *   ...                                by bench/NAME/report.ts's tables.TABLE
 *   <!-- /bench -->
 *   0.66x<!-- fig NAME a.b.c -->       a figure in prose: the value at a.b.c in
 *                                      bench/results/NAME.json, rounded as written
 *                                      (x ratio, % of a fraction, ms, MB/s, /s); a
 *                                      spread {median,min,max} is written "M (A-B)"
 *   2x<!-- param -->                   a goal, a setting or a simulated condition,
 *                                      not a measurement
 * and it refuses: a figure in prose that is neither (a number with x, %, ms,
 * MB/s or /s), a table that differs from its rendering, a kept result made by
 * another version of its script (its fingerprint) or by a --quick run.
 */
import { join } from 'node:path'
import { BENCH } from './lib/fingerprint.js'
import { figures } from './lib/figures.js'

const write = process.argv.includes('--write')
const { problems, checked } = await figures(join(BENCH, '..'), { write, log: line => { process.stderr.write(`${line}\n`) } })
if (problems.length > 0) {
  process.stderr.write(`figures: ${problems.length} problem(s):\n${problems.map(p => `- ${p}`).join('\n')}\n`)
  process.exit(1)
}
process.stdout.write(`figures: ${write ? 'written' : 'checked'}: every figure in README.md and docs/ is a kept result of the current bench scripts (${checked.join(', ')})\n`)
