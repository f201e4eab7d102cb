import { defineConfig } from 'vite'

// The console (demo/): served by `s3mesh server` at / on its console address.
export default defineConfig({
  root: 'demo',
  base: './',
  // Preact's JSX (demo/**/*.tsx).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // The console carries libp2p (the tab joins the mesh): about 1 MB before gzip.
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        // The mesh library (src/ and its dependencies: libp2p, hashing) in one chunk, the
        // console's own code in another, so each is measured against its budget.
        manualChunks: id => /\/src\/|node_modules\/(?!(preact|@preact|@picocss|lucide-preact|d3-|uplot|marked|dompurify)\b)/.test(id) ? 'mesh' : undefined,
      },
    },
  },
})
