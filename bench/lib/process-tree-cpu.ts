/**
 * CPU time of this benchmark's own process tree, from /proc, by kind of
 * process: Chromium's (by its --type: the browser process, renderers, the
 * network service, the GPU process), a server started by the benchmark, and
 * the children it has waited for (a command-line client such as aws-cli).
 * Linux only, as the benchmarks' machines are.
 */
import { readFile, readdir } from 'node:fs/promises'
import { cpuMs } from '../s3-http/targets.js'

/** Linux's clock ticks a second (USER_HZ), the unit of /proc's CPU times. */
const TICKS_PER_SECOND = 100

/** CPU ms so far of each process under this one, by kind (pids of `named` are given their name). */
export async function treeCpu (named: Record<string, number> = {}): Promise<Record<string, number>> {
  const parents = new Map<number, number>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch { /* gone meanwhile */ }
  }
  const under = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true
    return false
  }
  const names = new Map(Object.entries(named).map(([name, pid]) => [pid, name]))
  const out: Record<string, number> = {}
  for (const pid of parents.keys()) {
    if (!under(pid) && !names.has(pid)) continue
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
      const kind = names.get(pid) ?? (/chrom/i.test(cmd.split(' ')[0] ?? '') ? chromiumKind(cmd) : undefined)
      if (kind === undefined) continue
      const t = await cpuMs(pid)
      out[kind] = (out[kind] ?? 0) + t.user + t.system
    } catch { /* gone meanwhile */ }
  }
  // Children this process has waited for (fields 16 and 17 of its stat: cutime, cstime).
  const self = await readFile('/proc/self/stat', 'utf8')
  const fields = self.slice(self.lastIndexOf(')') + 2).split(' ')
  out.waitedChildren = (Number(fields[13]) + Number(fields[14])) * 1000 / TICKS_PER_SECOND
  return out
}

function chromiumKind (cmd: string): string {
  const type = /--type=(\S+)/.exec(cmd)?.[1]
  if (type === undefined) return 'chromium browser process'
  if (type === 'utility') return `chromium ${/--utility-sub-type=\S*?([A-Za-z]+)(\s|$)/.exec(cmd)?.[1] ?? 'utility'}`
  return `chromium ${type}`
}

/** What each kind spent between two readings. */
export function cpuBetween (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]))
}
