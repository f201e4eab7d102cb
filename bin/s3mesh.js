#!/usr/bin/env node
// Node 22 and 24 are the lines s3mesh is tested on (20 reached end of life in April 2026);
// 22.13 is the first 22 with node:sqlite (object metadata) without a flag.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`s3mesh: needs Node.js 22.13 or later, or 24; this is ${process.version}. Install a current LTS (for example \`npm install --prefix ~/.node24 node@24\`, then put ~/.node24/node_modules/.bin first on PATH).\n`)
  process.exit(1)
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
