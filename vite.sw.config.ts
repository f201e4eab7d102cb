import { defineConfig } from 'vite'

// The service worker: one self-contained classic script (every browser runs
// those as workers; module workers are not everywhere yet), served from the
// site's root as /s3mesh-sw.js. Built after the page library, into the same folder.
export default defineConfig({
  build: {
    outDir: 'dist/browser-bundle',
    emptyOutDir: false,
    sourcemap: true,
    minify: true,
    target: 'es2022',
    lib: {
      entry: 'src/browser/service-worker.ts',
      formats: ['iife'],
      name: 's3meshServiceWorker',
      fileName: () => 's3mesh-sw.js',
    },
  },
})
