/**
 * The "null" S3 endpoint: answers every request without storing anything. PUT
 * drains the body and remembers only its length; GET returns that many bytes
 * from one preallocated buffer. What a load generator reaches against it is the
 * ceiling of the generator itself on this machine.
 */
import { createServer } from 'node:http'

const sizes = new Map<string, number>()
const zeros = Buffer.alloc(300 * 1024 * 1024)
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!
  if (req.method === 'PUT') {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('end', () => { sizes.set(path, n); res.writeHead(200, { etag: '"00000000000000000000000000000000"' }).end() })
    return
  }
  if (req.method === 'GET') {
    const n = sizes.get(path) ?? 0
    res.writeHead(200, { 'content-length': n, etag: '"00000000000000000000000000000000"', 'content-type': 'application/octet-stream' })
    res.end(zeros.subarray(0, n))
    return
  }
  res.writeHead(200).end()
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`) })
