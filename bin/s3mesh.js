#!/usr/bin/env node
// Writes fsync in libuv's thread pool; its default 4 threads would cap
// concurrent uploads. It must be sized before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= '16'

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
