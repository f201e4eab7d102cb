#!/usr/bin/env node
// Node 22 and 24 are the lines s3mesh is tested on (20 reached end of life in April 2026);
// 22.13 is the first 22 with node:sqlite (object metadata) without a flag.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`s3mesh: needs Node.js 22.13 or later, or 24; this is ${process.version}. Install a current LTS (for example \`npm install --prefix ~/.node24 node@24\`, then put ~/.node24/node_modules/.bin first on PATH).\n`)
  process.exit(1)
}
// A long-running node trades a little CPU for a heap that stays near what it uses. V8's flags are read only at
// start, so the process replaces itself once with them (process.execve: the same pid, so signals and kill -9 reach
// the node itself). A flag already given (on node's command line or in NODE_OPTIONS) wins.
//  - V8 sizes the young generation from the machine's memory (64 MB semi-spaces on a 24 GiB machine), and keeps
//    what it grew to in a burst of requests. 4 MB: with 16 MB, a replica taking 1 MiB copies ran a full GC about
//    every ninth copy (a fifth of its CPU), each marking started by V8 with the heap far under its limit (why is not
//    found; perhaps the 1 MiB buffers held outside it); with 4 MB, six full GCs where there were forty-four, and a replicated 1 MiB PUT costs
//    the three nodes about a fifth less CPU. The price is more scavenges: a 64 KiB PUT costs about 5% more.
//  - After a full GC, V8 lets the old generation grow to up to 4x what was live before the next one, and gives
//    back the slack only once the node idles: a busy node held 150 MB of heap for 60 MB in use. 2x. At 1.25x
//    (earlier releases) a node taking 1 MiB PUTs ran a full GC every tenth of a second (each request's buffers
//    count against the same limit), a third of its CPU: 2x took a PUT of 1 MiB from 13 to 9 ms of CPU.
const LONG_RUNNING = new Set(['server', 'relay'])
const V8_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=100']
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
const missing = V8_FLAGS.filter(f => !given.some(g => g.startsWith(f.split('=')[0])))
if (LONG_RUNNING.has(process.argv[2]) && typeof process.execve === 'function' && missing.length > 0) {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env)
}
// Node 22 calls node:sqlite experimental on every start; 24 does not. The warning tells users nothing they can act on.
const emitWarning = process.emitWarning
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type
  if (type === 'ExperimentalWarning' && String(warning).startsWith('SQLite')) return
  return emitWarning.call(process, warning, ...rest)
}
// The command runs from one bundled file (`npm run build:cli`): Node loading the thousand-odd modules of dist/ and
// node_modules one by one took most of a start (0.7-1 s of a 1 s start on a 2-core machine, against about 0.25 s
// for the bundle). Node keeps the bundle's compiled code in its cache (the OS's temp folder), which takes a little more off.
const { enableCompileCache, flushCompileCache } = await import('node:module')
const { existsSync } = await import('node:fs')
enableCompileCache?.()
const bundle = new URL('../dist/node/s3mesh.mjs', import.meta.url)
if (!existsSync(bundle)) {
  process.stderr.write('s3mesh: the build is missing; run `npm run build` (npm ci does it) first.\n')
  process.exit(1)
}
const { main } = await import(bundle.href)
await main(process.argv)
// Node writes what it compiled to the cache at exit; a server that is killed instead would never keep it.
flushCompileCache?.()
