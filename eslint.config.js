// @ts-check
import tseslint from 'typescript-eslint'

// src/core, src/s3-shim and src/gateway run unchanged in Node, browsers, service
// workers and edge runtimes (DESIGN.md), and src/edge runs in workerd and Deno:
// only Web-standard APIs there, and imports point down only.
const layerMessage = 'src/core, src/s3-shim, src/gateway and src/edge use only Web-standard APIs (DESIGN.md): move platform code to src/node or src/browser.'
const platformModules = ['fs', 'fs/promises', 'path', 'http', 'https', 'http2', 'net', 'os', 'crypto', 'stream', 'stream/web', 'stream/promises', 'buffer', 'child_process', 'url', 'util', 'zlib', 'events', 'worker_threads']
const platformGlobals = ['window', 'document', 'localStorage', 'sessionStorage', 'navigator', 'process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate', 'global']

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-output/', '.tmp/', 'data/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // aws4fetch retries every 5xx ten times and the AWS SDK three times by default: a test
    // or benchmark would pass on a retry and never see the server's first answer, and
    // s3mesh's own callers would wait ~25 s before failing over. One signer has retries off.
    ignores: ['src/core/s3-signer.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='AwsClient']", message: "Use s3Signer() (src/core/s3-signer.ts) or test/helpers/s3-client.ts's signer(): aws4fetch's AwsClient retries a 5xx ten times by default." },
        { selector: "NewExpression[callee.name='S3Client']:not(:has(Property[key.name='maxAttempts']))", message: 'Give the AWS SDK client maxAttempts (1 in tests and benchmarks, or sdkClient() from test/helpers/s3-client.ts): it retries three times by default.' },
      ],
    },
  },
  // Web-standard layers: no platform modules, and imports point down only (docs/architecture.md).
  ...[
    ['src/core', ['s3-shim', 'gateway', 'node', 'browser', 'edge']],
    ['src/s3-shim', ['gateway', 'node', 'browser', 'edge']],
    ['src/gateway', ['node', 'browser', 'edge']],
    ['src/edge', ['node', 'browser']],
  ].map(([dir, above]) => ({
    files: [`${dir}/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...platformModules.map(name => ({ name, message: layerMessage })),
          ...['node', 'browser', 'edge'].map(name => ({ name: `s3mesh/${name}`, message: `${dir} must not import the ${name} adapter: imports point down only.` })),
        ],
        patterns: [
          { group: ['node:*'], message: layerMessage },
          // A relative path that climbs out of the layer into one above it (or into the console).
          { regex: `^(\\.\\./)+(${above.join('|')})/`, message: `${dir} must not import from ${above.map(a => `src/${a}`).join(', ')}: imports point down only (docs/architecture.md).` },
          { regex: '^(\\.\\./)+demo/', message: `${dir} must not import the console (demo/).` },
        ],
      }],
      'no-restricted-globals': ['error', ...platformGlobals.map(name => ({ name, message: `${dir} must not use platform globals (DESIGN.md).` }))],
    },
  })),
)
