#!/usr/bin/env node
// Node 22 and 24 are the lines s3mesh is tested on (20 reached end of life in April 2026).
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`s3mesh: needs Node.js 22 or 24; this is ${process.version}. Install a current LTS (for example \`npm install --prefix ~/.node24 node@24\`, then put ~/.node24/node_modules/.bin first on PATH).\n`)
  process.exit(1)
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
