// A TLS-terminating reverse proxy, as an operator puts in front of a node
// (nginx, Caddy): https on LISTEN_PORT with CERT_FILE and KEY_FILE, to plain
// http on TARGET. Plain Node, run inside a lab host's namespace.
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:https'

const target = new URL(process.env.TARGET)
const server = createServer({ cert: readFileSync(process.env.CERT_FILE), key: readFileSync(process.env.KEY_FILE) }, (req, res) => {
  const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, up => {
    res.writeHead(up.statusCode ?? 502, up.headers)
    up.pipe(res)
  })
  upstream.on('error', err => { res.writeHead(502).end(String(err)) })
  req.pipe(upstream)
})
server.listen(Number(process.env.LISTEN_PORT), '0.0.0.0', () => { process.stdout.write('proxy ready\n') })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
