import { defineConfig } from 'vite'

// The edge worker: one self-contained ES module with `export default { fetch }`
// (what wrangler, workerd and `deno serve` take), no Node built-ins.
export default defineConfig({
  build: {
    outDir: 'dist/edge-bundle',
    emptyOutDir: true,
    sourcemap: true,
    minify: true,
    target: 'es2022',
    ssr: false,
    lib: {
      entry: 'src/edge/worker.ts',
      formats: ['es'],
      fileName: () => 's3mesh-edge.js',
    },
  },
})
