import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { fileURLToPath } from 'node:url'

/**
 * A built folder of dist/: next to dist/node when installed, or under dist/
 * when running from source (tests, `npm run dev`).
 */
function builtDir (name: 'browser-bundle' | 'console'): string {
  for (const candidate of [`../${name}/`, `../../dist/${name}/`]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url))
    if (existsSync(dir)) return dir
  }
  return fileURLToPath(new URL(`../${name}/`, import.meta.url))
}

const ASSET_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml' }

/** What the console address serves, by path: the page library and the service worker from the site's root. */
const FILES: Record<string, { file: string, type: string, cache: string }> = {
  '/s3mesh.js': { file: 's3mesh.js', type: 'text/javascript; charset=utf-8', cache: 'no-cache' },
  '/s3mesh.js.map': { file: 's3mesh.js.map', type: 'application/json', cache: 'no-cache' },
  // Browsers check a worker script for updates on navigation; no-cache makes a new build take over at once.
  '/s3mesh-sw.js': { file: 's3mesh-sw.js', type: 'text/javascript; charset=utf-8', cache: 'no-cache' },
  '/s3mesh-sw.js.map': { file: 's3mesh-sw.js.map', type: 'application/json', cache: 'no-cache' },
}

/** Without the built console (demo/): a page that makes this tab an s3mesh browser peer. */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>s3mesh</title></head>
<body>
<main>
<h1>s3mesh</h1>
<p id="status" role="status">Starting the service worker…</p>
<p>Once it runs, <code>fetch('/s3/bucket/key')</code> from this origin is S3, kept in this browser's IndexedDB.</p>
</main>
<script type="module">
  import { register } from '/s3mesh.js'
  const status = document.getElementById('status')
  register().then(() => { status.textContent = 'This tab is an s3mesh browser peer: /s3/ on this origin is S3.' },
    err => { status.textContent = 'The service worker could not start: ' + err.message })
</script>
</body>
</html>
`

type NodeListener = (req: IncomingMessage, res: ServerResponse) => void

function listener (dir: string, consoleDir: string, api: NodeListener, gateway: NodeListener) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!
    if (path.startsWith('/_s3mesh/')) {
      api(req, res)
      return
    }
    // /s3/ reaches this server when no service worker answered: a worker's gateway fallback (signed),
    // or a page the worker does not control yet (refused: unsigned).
    if (path === '/s3' || path.startsWith('/s3/')) {
      gateway(req, res)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/' || path === '/index.html') {
      readFile(`${consoleDir}index.html`).catch(() => PAGE).then(body => {
        // Never framed by another page (clickjacking: the console acts with the keys signed in).
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'x-frame-options': 'DENY', 'content-security-policy': 'frame-ancestors \'none\'' }).end(req.method === 'HEAD' ? undefined : body)
      }, () => { res.writeHead(500).end() })
      return
    }
    // The console's own files: hashed names under /assets/, nothing else (no path walks).
    const asset = /^\/assets\/([A-Za-z0-9_.-]+)$/.exec(path)?.[1]
    const type = asset === undefined ? undefined : ASSET_TYPES[asset.slice(asset.lastIndexOf('.'))]
    if (asset !== undefined && type !== undefined && !asset.startsWith('.')) {
      readFile(`${consoleDir}assets/${asset}`).then(body => {
        res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', 'content-length': body.byteLength })
        res.end(req.method === 'HEAD' ? undefined : body)
      }, () => { res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n') })
      return
    }
    const entry = FILES[path]
    if (entry === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
      return
    }
    readFile(`${dir}${entry.file}`).then(body => {
      res.writeHead(200, { 'content-type': entry.type, 'cache-control': entry.cache, 'content-length': body.byteLength })
      res.end(req.method === 'HEAD' ? undefined : body)
    }, () => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('The browser bundle is missing: run `npm run build`.\n')
    })
  }
}

/**
 * An HTTP server for the console address: the console page, the page library
 * and the service worker, the s3mesh API (`api`, root credentials) for its
 * pages, and S3 under /s3/ (`gateway`, signed requests) for their workers.
 */
export function createConsoleServer (options: { api: NodeListener, gateway: NodeListener, certificates?: { key: string, cert: string } | undefined }): Server {
  const handle = listener(builtDir('browser-bundle'), builtDir('console'), options.api, options.gateway)
  // No limit on a whole request (Node's default cuts one off at 5 minutes): a tab's large upload to /s3 may take longer,
  // as on the S3 port (server.ts).
  const limits = { headersTimeout: 60_000, requestTimeout: 0 }
  if (options.certificates !== undefined) return createHttpsServer({ ...limits, key: options.certificates.key, cert: options.certificates.cert }, handle) as unknown as Server
  return createServer(limits, handle)
}
