import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The bench/ folder. */
export const BENCH = fileURLToPath(new URL('..', import.meta.url))

const IMPORT = /(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g

/** Files that stamp, keep and render results but measure nothing: changing them leaves results valid. */
const PLUMBING = new Set(['lib/keep.ts', 'lib/fingerprint.ts', 'lib/figures.ts', 'lib/table.ts'])

/**
 * What a benchmark's kept result was produced by: every file of its folder
 * (scripts it spawns included) and the files elsewhere under bench/ that they
 * import, hashed together. What only renders or keeps results (report.ts,
 * PLUMBING) is left out. A kept result whose fingerprint differs from the script's
 * current one was made by another version of the script.
 */
export async function fingerprint (name: string, bench = BENCH): Promise<{ sha256: string, files: string[] }> {
  const folder = join(bench, name)
  const files = new Set<string>()
  const queue = (await readdir(folder)).filter(f => f.endsWith('.ts') && f !== 'report.ts').map(f => join(folder, f))
  while (queue.length > 0) {
    const file = queue.pop()!
    if (files.has(file) || PLUMBING.has(relative(bench, file))) continue
    files.add(file)
    for (const m of (await readFile(file, 'utf8')).matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))
      if (target.startsWith(bench) && existsSync(target)) queue.push(target)
    }
  }
  const sorted = [...files].map(f => relative(bench, f)).sort()
  const hash = createHash('sha256')
  for (const f of sorted) hash.update(`${f}\0`).update(await readFile(join(bench, f))).update('\0')
  return { sha256: hash.digest('hex'), files: sorted }
}
