#!/usr/bin/env node
// Node 22 and 24 are the lines s3mesh is tested on (20 reached end of life in April 2026);
// 22.13 is the first 22 with node:sqlite (object metadata) without a flag.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`s3mesh: needs Node.js 22.13 or later, or 24; this is ${process.version}. Install a current LTS (for example \`npm install --prefix ~/.node24 node@24\`, then put ~/.node24/node_modules/.bin first on PATH).\n`)
  process.exit(1)
}
// V8 sizes the young generation from the machine's memory (64 MB semi-spaces on a 24 GiB machine), and a node keeps
// what it grew to in a burst of requests for the rest of its life. A server or relay runs with
// 16 MB (V8's default for years; the old generation is untouched). The flag is read only at start, so the process
// replaces itself once with it (process.execve: the same pid, so signals and kill -9 reach the node itself).
const LONG_RUNNING = new Set(['server', 'relay'])
const SEMI_SPACE = '--max-semi-space-size'
if (LONG_RUNNING.has(process.argv[2]) && typeof process.execve === 'function' &&
    !process.execArgv.some(a => a.startsWith(SEMI_SPACE)) && !(process.env.NODE_OPTIONS ?? '').includes(SEMI_SPACE)) {
  process.execve(process.execPath, [process.execPath, `${SEMI_SPACE}=16`, ...process.execArgv, ...process.argv.slice(1)], process.env)
}
// Node 22 calls node:sqlite experimental on every start; 24 does not. The warning tells users nothing they can act on.
const emitWarning = process.emitWarning
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type
  if (type === 'ExperimentalWarning' && String(warning).startsWith('SQLite')) return
  return emitWarning.call(process, warning, ...rest)
}
try {
  const { main } = await import('../dist/node/cli.js')
  await main(process.argv)
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/node/cli.js')) {
    process.stderr.write('s3mesh: the build is missing; run `npm run build` (npm ci does it) first.\n')
    process.exit(1)
  }
  throw err
}
