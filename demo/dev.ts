/**
 * `npm run dev [-- <data dir>]`: the console with hot reload. vite serves
 * demo/ from source (edits show at once) and hands the node's paths (S3 under
 * /s3/, the API under /_s3mesh/, the service worker) to a local node: the one
 * at S3MESH_CONSOLE when given, otherwise one started here from source with
 * its console on 127.0.0.1:9001 and its data in ./data (or the folder given).
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build, createServer } from 'vite'
import { main } from '../src/node/cli.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const given = process.env.S3MESH_CONSOLE
const node = given ?? 'http://127.0.0.1:9001'

// The node serves the built service worker; build it once if this checkout has none yet.
if (!existsSync(`${root}dist/browser-bundle/s3mesh-sw.js`)) await build({ configFile: `${root}vite.sw.config.ts`, logLevel: 'warn' })
if (given === undefined) await main([process.argv[0]!, 's3mesh', 'server', process.argv[2] ?? './data', '--console-address', new URL(node).host])

const server = await createServer({
  configFile: `${root}vite.console.config.ts`,
  server: {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 5173),
    strictPort: false,
    // The Host header is left as the browser sent it: SigV4 signatures cover it.
    proxy: { '^/(s3|_s3mesh)(/|$)': { target: node, ws: false }, '/s3mesh-sw.js': { target: node } },
  },
})
await server.listen()
server.printUrls()
process.stdout.write(`Console with hot reload (log in with the node's root keys, printed above): ${server.resolvedUrls?.local[0] ?? ''}\n`)
