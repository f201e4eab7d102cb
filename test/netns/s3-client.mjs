// An S3 client run inside a lab host's namespace (plain Node, no build step):
// the multi-host tests and bench/mesh-wan drive nodes on other hosts with it.
// One JSON line per request on stdout; no retries, so every answer is the
// server's first. Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY;
// a private CA from NODE_EXTRA_CA_CERTS.
//
//   node s3-client.mjs put <endpoint> <bucket> <prefix> <count> <bytes> [concurrency]
//   node s3-client.mjs get <endpoint> <bucket> <key>...
//   node s3-client.mjs get-stdin <endpoint> <bucket>        (keys, one per line, on stdin)
//   node s3-client.mjs signed-get <url>                     (a signed GET of any path: prints status and body)
//   node s3-client.mjs put-cors <endpoint> <bucket> <origin>  (the bucket, and a CORS rule letting that origin's pages write)
import { createHash, randomBytes } from 'node:crypto'
import { AwsClient } from 'aws4fetch'

const [mode, endpoint, ...rest] = process.argv.slice(2)
// retries: 0 here, which is what the rule against AwsClient is about (this plain-Node script cannot import the TypeScript s3Signer).
// eslint-disable-next-line no-restricted-syntax
const client = new AwsClient({ accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY, service: 's3', region: 'us-east-1', retries: 0 })
const TIMEOUT_MS = Number(process.env.S3_CLIENT_TIMEOUT_MS ?? 15_000)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

async function request (url, init = {}) {
  const started = performance.now()
  const res = await client.fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) })
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, body, ms: performance.now() - started, headers: res.headers }
}

if (mode === 'put') {
  const [bucket, prefix, countText, bytesText, concurrencyText] = rest
  const count = Number(countText)
  const bytes = Number(bytesText)
  await request(`${endpoint}/${bucket}`, { method: 'PUT' }).catch(() => {})
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const key = `${prefix}${String(i).padStart(5, '0')}`
      const body = randomBytes(bytes)
      const sha256 = createHash('sha256').update(body).digest('hex')
      try {
        const r = await request(`${endpoint}/${bucket}/${key}`, { method: 'PUT', body })
        out({ op: 'put', key, status: r.status, sha256, ms: r.ms, at: Date.now(), ...(r.status === 200 ? {} : { error: r.body.toString().slice(0, 300) }) })
      } catch (err) {
        out({ op: 'put', key, status: 0, sha256, at: Date.now(), error: String(err) })
      }
    }
  }
  await Promise.all(Array.from({ length: Number(concurrencyText ?? 1) }, worker))
} else if (mode === 'get' || mode === 'get-stdin') {
  const [bucket, ...given] = rest
  const keys = mode === 'get' ? given : (await new Response(process.stdin).text()).split('\n').filter(k => k !== '')
  for (const key of keys) {
    try {
      const r = await request(`${endpoint}/${bucket}/${key}`)
      out({ op: 'get', key, status: r.status, ms: r.ms, sha256: r.status === 200 ? createHash('sha256').update(r.body).digest('hex') : undefined })
    } catch (err) {
      out({ op: 'get', key, status: 0, error: String(err) })
    }
  }
} else if (mode === 'put-cors') {
  const [bucket, origin] = rest
  await request(`${endpoint}/${bucket}`, { method: 'PUT' }).catch(() => {})
  const body = `<CORSConfiguration><CORSRule><AllowedOrigin>${origin}</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-s3mesh-replicas</ExposeHeader></CORSRule></CORSConfiguration>`
  const r = await request(`${endpoint}/${bucket}?cors`, { method: 'PUT', body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } })
  out({ status: r.status, body: r.body.toString() })
} else if (mode === 'signed-get') {
  try {
    const r = await request(endpoint)
    out({ status: r.status, body: r.body.toString() })
  } catch (err) {
    out({ status: 0, error: String(err) })
  }
} else {
  process.stderr.write('usage: s3-client.mjs put|get|get-stdin|signed-get ...\n')
  process.exit(2)
}
