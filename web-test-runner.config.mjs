// Browser tests: web-test-runner drives Debian's Chromium (playwright's launcher,
// nothing downloaded). Each test file is bundled with esbuild first: wtr's own
// resolver cannot load libp2p's browser builds unbundled.
import { build } from 'esbuild'
import { playwrightLauncher } from '@web/test-runner-playwright'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/helpers/chromium-args.mjs'

const bundleTests = {
  name: 'bundle-tests',
  async serve (context) {
    if (!context.path.endsWith('.test.ts')) return undefined
    const result = await build({
      entryPoints: [`.${context.path}`],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      sourcemap: 'inline',
      // Shared suites assert with node:assert/strict; in the browser that is the npm port's strict mode.
      alias: { 'node:assert/strict': './test/browser/strict-assert.js' },
      define: { 'process.env.NODE_DEBUG': 'false' },
      inject: ['./test/browser/process-shim.js'],
    })
    return { body: result.outputFiles[0].text, type: 'js' }
  },
}

export default {
  files: 'test/browser/**/*.test.ts',
  nodeResolve: false,
  plugins: [bundleTests],
  concurrency: 1,
  testFramework: { config: { timeout: 120_000 } },
  testsFinishTimeout: 600_000,
  browsers: [playwrightLauncher({
    product: 'chromium',
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  })],
}
