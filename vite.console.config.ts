import { defineConfig } from 'vite'

// The console (demo/): served by `s3mesh server` at / on its console address.
export default defineConfig({
  root: 'demo',
  base: './',
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // The console carries libp2p (the tab joins the mesh): about 1 MB before gzip.
    chunkSizeWarningLimit: 2000,
  },
})
