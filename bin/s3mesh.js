#!/usr/bin/env node
// Node 22 and 24 are the lines s3mesh is tested on (20 reached end of life in April 2026);
// 22.13 is the first 22 with node:sqlite (object metadata) without a flag.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`s3mesh: needs Node.js 22.13 or later, or 24; this is ${process.version}. Install a current LTS (for example \`npm install --prefix ~/.node24 node@24\`, then put ~/.node24/node_modules/.bin first on PATH).\n`)
  process.exit(1)
}
// A long-running node trades a little CPU for a heap that stays near what it uses (bin/v8-flags.js says how).
// V8's flags are read only at start, so the process replaces itself once with them. A flag already given (on node's
// command line or in NODE_OPTIONS) wins.
const LONG_RUNNING = new Set(['server', 'relay'])
if (LONG_RUNNING.has(process.argv[2])) (await import('./v8-flags.js')).restartWithV8Flags()
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
