import { defineConfig } from 'vite'

// Browser bundles. The browser entry must pull in nothing Node-specific: the
// bundle test (test/unit/browser-bundle.test.ts) builds it and checks.
export default defineConfig({
  build: {
    outDir: 'dist/browser-bundle',
    emptyOutDir: true,
    sourcemap: true,
    minify: true,
    target: 'es2022',
    lib: {
      entry: 'src/browser/index.ts',
      formats: ['es'],
      fileName: () => 's3mesh.js',
    },
  },
})
