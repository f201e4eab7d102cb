import { spawnSync } from 'node:child_process'

// The V8 flags a long-running node (server, relay) runs with. bin/s3mesh.js starts nodes with them; the benchmarks
// that run a node's parts in processes of their own (bench/mesh-transfer) use them too, so that they measure what a
// node does. V8 reads these only at start.
//  - V8 sizes the young generation from the machine's memory (64 MB semi-spaces on a 24 GiB machine), and keeps
//    what it grew to in a burst of requests. 4 MB: with 16 MB, a replica taking 1 MiB copies ran a full GC about
//    every ninth copy (a fifth of its CPU); with 4 MB, six full GCs where there were forty-four, and a replicated
//    1 MiB PUT costs the three nodes about a fifth less CPU. The price is more scavenges: a 64 KiB PUT costs about 5%
//    more. (Why the young generation's size moved the full GCs is not found; the last flag's note says what starts them.)
//  - After a full GC, V8 lets the old generation grow to up to 4x what was live before the next one, and gives
//    back the slack only once the node idles: a busy node held 150 MB of heap for 60 MB in use. 2x. At 1.25x
//    (earlier releases) a node taking 1 MiB PUTs ran a full GC every tenth of a second (each request's buffers
//    count against the same limit), a third of its CPU: 2x took a PUT of 1 MiB from 13 to 9 ms of CPU.
//  - Node 24's V8 (13.6) adds every ArrayBuffer byte allocated since the last full GC to the old generation's size
//    when it decides to start one, however little of it still lives: a node moving object bytes (each MiB
//    allocated two or three times over, as socket reads, plaintext and copies) ran a full GC every few dozen MB
//    it handled. With that memory counted in V8's global limit instead, a member reading 1 MiB transfers ran a
//    third as many full GCs and spent about a quarter less CPU. Node 22's V8 has no such flag (node refuses to
//    start with a V8 flag it lacks, so it gets none and keeps the old behaviour); V8 later made this its default
//    and dropped the flag. On a Node line other than the two tested, node's own list of V8 flags says.

const EXTERNAL_MEMORY = '--external-memory-accounted-in-global-limit'

/** Whether this node's V8 has `flag`: known for the lines tested (22: no, 24: yes), else asked of node itself. */
function hasV8Flag (flag, major) {
  if (major === 22) return false
  if (major === 24) return true
  const listed = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8', timeout: 10_000 })
  return listed.status === 0 && listed.stdout.includes(flag)
}

/** The flags for this Node.js (`major`: its major version). */
export function nodeV8Flags (major = Number(process.versions.node.split('.')[0])) {
  return ['--max-semi-space-size=4', '--heap-growing-percent=100', ...(hasV8Flag(EXTERNAL_MEMORY, major) ? [EXTERNAL_MEMORY] : [])]
}

/** A flag's name, as node reads it: `--no-` and underscores aside. */
const nameOf = flag => flag.split('=')[0].replace(/^--no-/, '--').replace(/_/g, '-')

/** Those of `flags` not already given on node's command line or in NODE_OPTIONS (one given, or its --no- form, wins). */
export function missingV8Flags (flags = nodeV8Flags()) {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(nameOf)
  return flags.filter(f => !given.includes(nameOf(f)))
}

/** Those of `flags` this process was started with on its command line (what it passes on to a process it spawns). */
export function givenV8Flags (flags = nodeV8Flags()) {
  return process.execArgv.filter(a => flags.some(f => nameOf(f) === nameOf(a)))
}

/**
 * Replaces this process (process.execve: the same pid, so signals and kill -9 reach it) with one started with the
 * flags it lacks (of `flags`); returns only if it has them all, or where it cannot (Node before 22.15, Windows).
 */
export function restartWithV8Flags (flags = nodeV8Flags()) {
  const missing = missingV8Flags(flags)
  if (missing.length > 0 && typeof process.execve === 'function' && process.platform !== 'win32') {
    process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env)
  }
}
