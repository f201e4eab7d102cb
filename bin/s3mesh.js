#!/usr/bin/env node
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
