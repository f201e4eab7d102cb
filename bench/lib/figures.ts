/** The figures check behind bench/figures.ts: tables and figures in README.md and docs/ against bench/results. */
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { fingerprint } from './fingerprint.js'

type Doc = Record<string, unknown>
export type Tables = Record<string, (doc: never) => string>

export interface FiguresResult {
  /** What is wrong, one line each; none when every figure is a kept result of the current scripts. */
  problems: string[]
  /** The benchmarks whose results were quoted. */
  checked: string[]
}

/**
 * Checks (or with `write`, rewrites) the marked tables and figures of
 * README.md and docs/ under `root` against `root`/bench/results (see bench/figures.ts).
 */
export async function figures (root: string, { write = false, log = (_line: string) => {} } = {}): Promise<FiguresResult> {
const BENCH = join(root, 'bench')
const ROOT = root
const problems: string[] = []
const docs = new Map<string, Doc>()
const checked = new Set<string>()

async function result (name: string, where: string): Promise<Doc | undefined> {
  if (docs.has(name)) return docs.get(name)
  const file = join(BENCH, 'results', `${name}.json`)
  if (!existsSync(file)) { problems.push(`${where}: bench/results/${name}.json does not exist: run npm run bench:${name}`); return undefined }
  const doc = JSON.parse(await readFile(file, 'utf8')) as Doc
  docs.set(name, doc)
  if (!checked.has(name)) {
    checked.add(name)
    const now = await fingerprint(name, BENCH)
    if (doc.script !== now.sha256) problems.push(`bench/results/${name}.json was made by another version of bench/${name} (its files: ${now.files.join(', ')}): rerun npm run bench:${name}`)
    if (doc.quick !== false) problems.push(`bench/results/${name}.json is a --quick run: rerun npm run bench:${name} in full`)
  }
  return doc
}

async function render (name: string, table: string, where: string): Promise<string | undefined> {
  const doc = await result(name, where)
  if (doc === undefined) return undefined
  const file = join(BENCH, name, 'report.ts')
  if (!existsSync(file)) { problems.push(`${where}: bench/${name}/report.ts does not exist`); return undefined }
  const { tables } = await import(pathToFileURL(file).href) as { tables: Tables }
  const fn = tables[table]
  if (fn === undefined) { problems.push(`${where}: bench/${name}/report.ts has no table "${table}" (it has ${Object.keys(tables).join(', ')})`); return undefined }
  return (fn as (doc: Doc) => string)(doc).trimEnd()
}

function valueAt (doc: Doc, path: string): unknown {
  let v: unknown = doc
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined
  return v
}

const decimals = (s: string): number => s.includes('.') ? s.length - s.indexOf('.') - 1 : 0
const roundTo = (n: number, d: number): number => Math.round(n * 10 ** d) / 10 ** d
const format = (n: number, d: number): string => roundTo(n, d).toFixed(d)

/** A figure in prose: number, unit, optional range, then its marker. */
const FIG = /(\d+(?:\.\d+)?)(x|%| ms| s| MB\/s| ops\/s|\/s)?(?: \((\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\))?<!-- fig ([\w-]+) ([\w.-]+) -->/g
/** A number that reads as a measurement: a ratio, a share, a time in ms, a rate. */
const MEASURE_SOURCE = String.raw`(?<![\w.-])\d+(?:[.,]\d+)?(?:-\d+(?:\.\d+)?| \(\d+(?:\.\d+)?-\d+(?:\.\d+)?\))?(?:x(?![\w])|%| ?ms\b| ?[MG]B\/s| ?(?:ops|PUT|GET)?\/s\b)`
const MEASURE = new RegExp(MEASURE_SOURCE, 'g')
/** The same, marked as not a measurement. */
const PARAM = new RegExp(`${MEASURE_SOURCE}<!-- param -->`, 'g')

async function figure (m: RegExpMatchArray, where: string): Promise<string> {
  const [whole, value, unit = '', lo, hi, name, path] = m as unknown as string[]
  const doc = await result(name!, where)
  if (doc === undefined) return whole!
  const v = valueAt(doc, path!)
  // A share is written in %, and a time kept in ms (a path with a segment named ...Ms or ...ms) may be written in seconds.
  const segments = path!.split('.')
  const keptInMs = segments.some(p => /(?:Ms|\dms|^ms)$/.test(p))
  if (unit === ' s' && !keptInMs && !segments.some(p => /Seconds$|^seconds$/.test(p))) {
    problems.push(`${where}: "${whole}" is in seconds, but bench/results/${name}.json's ${path} names no unit (…Ms or …Seconds): write it in the result's unit`)
    return whole!
  }
  const scale = unit === '%' ? 100 : unit === ' s' && keptInMs ? 0.001 : 1
  const marker = `<!-- fig ${name} ${path} -->`
  if (typeof v === 'number') {
    const want = format(v * scale, decimals(value!))
    if (Number(want) === Number(value) && lo === undefined) return whole!
    if (!write) problems.push(`${where}: "${whole}" but bench/results/${name}.json has ${path} = ${v}`)
    return `${want}${unit}${marker}`
  }
  if (v !== null && typeof v === 'object' && 'median' in v) {
    const s = v as { median: number, min: number, max: number }
    const d = decimals(value!)
    const same = s.min === s.max
    const want = `${format(s.median * scale, d)}${unit}${same ? '' : ` (${format(s.min * scale, d)}-${format(s.max * scale, d)})`}`
    const ok = Number(value) === roundTo(s.median * scale, d) && (same ? lo === undefined : lo !== undefined && Number(lo) === roundTo(s.min * scale, d) && Number(hi) === roundTo(s.max * scale, d))
    if (ok) return whole!
    if (!write) problems.push(`${where}: "${whole}" but bench/results/${name}.json has ${path} = median ${s.median}, ${s.min}-${s.max}: write "${want}"`)
    return `${want}${marker}`
  }
  problems.push(`${where}: bench/results/${name}.json has no figure at ${path}`)
  return whole!
}

async function replaceAsync (text: string, re: RegExp, fn: (m: RegExpMatchArray) => Promise<string>): Promise<string> {
  let out = ''
  let last = 0
  for (const m of text.matchAll(re)) {
    out += text.slice(last, m.index) + await fn(m)
    last = m.index! + m[0].length
  }
  return out + text.slice(last)
}

async function checkFile (file: string): Promise<void> {
  const name = relative(ROOT, file)
  const lines = (await readFile(file, 'utf8')).split('\n')
  const out: string[] = []
  let fence = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const where = `${name}:${i + 1}`
    if (/^\s*```/.test(line)) fence = !fence
    const open = /^<!-- bench ([\w-]+) ([\w-]+) -->$/.exec(line)
    if (!fence && open !== null) {
      const end = lines.indexOf('<!-- /bench -->', i)
      if (end < 0) { problems.push(`${where}: <!-- bench ${open[1]} ${open[2]} --> has no <!-- /bench -->`); out.push(line); continue }
      const have = lines.slice(i + 1, end).join('\n').trim()
      const want = await render(open[1]!, open[2]!, where)
      if (want !== undefined && want !== have && !write) problems.push(`${where}: the table differs from bench/${open[1]}/report.ts's "${open[2]}" rendering of bench/results/${open[1]}.json: run npm run bench:figures`)
      out.push(line, ...(want ?? have).split('\n'), '<!-- /bench -->')
      i = end
      continue
    }
    if (fence) { out.push(line); continue }
    const next = await replaceAsync(line, FIG, async m => await figure(m, where))
    if (next !== line) log(`figures: ${where} now reads: ${next.trim()}`)
    // Anything else that reads as a measurement must be marked.
    const unread = next.replace(/`[^`]*`/g, '').replace(FIG, '')
    const prose = unread.replace(PARAM, '').replace(/<!--[^>]*-->/g, '')
    for (const m of prose.matchAll(MEASURE)) problems.push(`${where}: "${m[0]}" is not marked: make it <!-- fig NAME path --> (a kept result) or <!-- param --> (not a measurement)`)
    // A marker FIG cannot read (say, a unit after the range) would be neither checked nor rewritten.
    for (const m of unread.matchAll(/<!-- fig [^>]*-->/g)) problems.push(`${where}: "${m[0]}" follows no figure it can read: put it right after the number, its unit and its range, as in "7.2 ms (6.1-8.4)<!-- fig NAME path -->"`)
    out.push(next)
  }
  const text = out.join('\n')
  if (write && text !== lines.join('\n')) await writeFile(file, text)
}

async function markdown (dir: string): Promise<string[]> {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...await markdown(join(dir, e.name)))
    else if (e.name.endsWith('.md')) out.push(join(dir, e.name))
  }
  return out
}

for (const file of [join(ROOT, 'README.md'), ...await markdown(join(ROOT, 'docs'))]) if (existsSync(file)) await checkFile(file)
return { problems, checked: [...checked].sort() }
}
