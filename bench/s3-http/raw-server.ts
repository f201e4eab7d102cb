/**
 * The "raw" baseline: node:http streaming the same bytes to and from files,
 * with no S3 logic at all (no auth, no hashing, no metadata, no fsync). What
 * s3mesh costs on top of plain Node file streaming is the gap to this.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const dir = process.argv[2]!
const fileOf = (url: string): string => join(dir, encodeURIComponent((url.split('?')[0] ?? '/').slice(1)))
const server = createServer((req, res) => {
  const file = fileOf(req.url ?? '/')
  if (req.method === 'PUT') {
    pipeline(req, createWriteStream(file)).then(() => { res.writeHead(200, { etag: '"0"' }).end() }, () => { res.writeHead(500).end() })
    return
  }
  if (req.method === 'GET') {
    stat(file).then(s => {
      res.writeHead(200, { 'content-length': s.size, etag: '"0"', 'content-type': 'application/octet-stream' })
      return pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res)
    }).catch(() => { if (!res.headersSent) res.writeHead(404).end() })
    return
  }
  res.writeHead(200).end()
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`) })
