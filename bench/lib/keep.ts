import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { BENCH, fingerprint } from './fingerprint.js'

/** What every benchmark takes on its command line. */
export interface BenchOptions {
  /** --quick: a smoke run with small counts; printed, never kept. */
  quick: boolean
  /** --runs N: how many times the measurement is repeated (figures are the median and the range). */
  runs: number
  /** --no-save: print only, keep nothing. */
  save: boolean
}

export function benchOptions (defaultRuns = 3): BenchOptions {
  const argv = process.argv.slice(2)
  const quick = argv.includes('--quick')
  const at = argv.indexOf('--runs')
  const runs = at >= 0 ? Number(argv[at + 1]) : quick ? 1 : defaultRuns
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number of runs, 1 or more')
  return { quick, runs, save: !quick && !argv.includes('--no-save') }
}

/** The arguments that are not options (--quick, --runs N, --no-save): sizes and such. */
export function benchArgs (): string[] {
  const argv = process.argv.slice(2)
  return argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--runs')
}

function git (...args: string[]): string | undefined {
  try { return execFileSync('git', args, { cwd: BENCH, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return undefined }
}

/**
 * Prints a benchmark's result as one JSON document and its one-line summary,
 * and keeps the document in bench/results/<name>.json (unless --quick or
 * --no-save), stamped with what produced it: the commit, whether the tree
 * had changes, and the fingerprint of the benchmark's own files, which
 * `npm run check:figures` compares with the script as it is now.
 */
export async function keep (name: string, options: BenchOptions, result: Record<string, unknown>, summary: string): Promise<void> {
  const doc = {
    bench: name,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: process.platform },
    commit: git('rev-parse', 'HEAD'),
    changes: (git('status', '--porcelain', '--untracked-files=no') ?? '') !== '',
    script: (await fingerprint(name)).sha256,
    quick: options.quick,
    runs: options.runs,
    ...result,
  }
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  process.stdout.write(`${name}: ${summary}\n`)
  if (!options.save) return
  const file = join(BENCH, 'results', `${name}.json`)
  await mkdir(join(BENCH, 'results'), { recursive: true })
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n')
  process.stderr.write(`${name}: kept in bench/results/${name}.json\n`)
}
