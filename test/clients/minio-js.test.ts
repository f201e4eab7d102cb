import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import * as Minio from 'minio'
import { makeFixtures, sha256File, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

describe('minio JS client', () => {
  let server: ServerProcess
  let fx: Fixtures
  let mc: Minio.Client
  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
    const u = new URL(server.url)
    mc = new Minio.Client({ endPoint: u.hostname, port: Number(u.port), useSSL: false, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, region: 'us-east-1', pathStyle: true, retryOptions: { disableRetry: true } })
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('makes a bucket, puts (multipart), lists, gets, presigns, removes', async () => {
    await mc.makeBucket('cli-minio', 'us-east-1')
    assert.equal(await mc.bucketExists('cli-minio'), true)
    await mc.putObject('cli-minio', 'docs/small.txt', Buffer.from(fx.smallText), undefined, { 'Content-Type': 'text/plain' })
    await mc.fPutObject('cli-minio', 'big/fifty.bin', fx.big, {})
    const stat = await mc.statObject('cli-minio', 'big/fifty.bin')
    assert.equal(stat.size, 50 * 1024 * 1024)
    const entries: Array<{ name?: string, prefix?: string }> = []
    for await (const e of mc.listObjectsV2('cli-minio', '', false)) entries.push(e as { name?: string, prefix?: string })
    assert.deepEqual(entries.map(e => e.prefix ?? e.name), ['big/', 'docs/'])
    const back = `${fx.dir}/back.bin`
    await mc.fGetObject('cli-minio', 'big/fifty.bin', back)
    assert.equal(await sha256File(back), fx.bigSha256)
    const partial = await mc.getPartialObject('cli-minio', 'docs/small.txt', 6, 4)
    let text = ''
    for await (const c of partial) text += c
    assert.equal(text, fx.smallText.slice(6, 10))
    const url = await mc.presignedGetObject('cli-minio', 'docs/small.txt', 600)
    const res = await fetch(url)
    assert.equal(await res.text(), fx.smallText)
    assert.equal(createHash('md5').update(fx.smallText).digest('hex'), (await mc.statObject('cli-minio', 'docs/small.txt')).etag)
    await mc.removeObjects('cli-minio', ['docs/small.txt', 'big/fifty.bin'])
    await mc.removeBucket('cli-minio')
    assert.equal(await mc.bucketExists('cli-minio'), false)
  })
})
