import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { after, before, it } from 'node:test'
import { describeClient, makeFixtures, run, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

// Debian's python3 with python3-boto3; a pyenv python may come first on PATH.
const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('./boto3_flow.py', import.meta.url))
const VERSIONS = fileURLToPath(new URL('./boto3_versions.py', import.meta.url))
const OBJECT_LOCK = fileURLToPath(new URL('./boto3_object_lock.py', import.meta.url))
const BOTO3 = '/usr/lib/python3/dist-packages/boto3'

describeClient('boto3', existsSync(PYTHON) ? BOTO3 : PYTHON, 'apt-get install python3-boto3', () => {
  let server: ServerProcess
  let fx: Fixtures
  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('creates, puts (multipart), lists, gets ranges, checksums and parts, a lifecycle rule, downloads, presigns, deletes', async () => {
    const { stdout } = await run(PYTHON, [SCRIPT, server.url, ACCESS_KEY, SECRET_KEY, fx.big], {}, { unset: ['AWS_CA_BUNDLE', 'AWS_PROFILE'] })
    assert.match(stdout, /boto3 flow ok/)
  })

  it('keeps versions on a mesh member: ids, markers, the versions paginator, restore by copy, suspended, and emptying with object_versions.delete()', async () => {
    const { stdout } = await run(PYTHON, [VERSIONS, server.url, ACCESS_KEY, SECRET_KEY], {}, { unset: ['AWS_CA_BUNDLE', 'AWS_PROFILE'] })
    assert.match(stdout, /boto3 versions ok/)
  })

  it('keeps versions the same on a node without the mesh, and object lock there: retention, legal hold, refused deletes, a bypass', async () => {
    const lone = await startServerProcess({ args: ['--no-mesh'] })
    try {
      const { stdout } = await run(PYTHON, [VERSIONS, lone.url, ACCESS_KEY, SECRET_KEY], {}, { unset: ['AWS_CA_BUNDLE', 'AWS_PROFILE'] })
      assert.match(stdout, /boto3 versions ok/)
      const locked = await run(PYTHON, [OBJECT_LOCK, lone.url, ACCESS_KEY, SECRET_KEY], {}, { unset: ['AWS_CA_BUNDLE', 'AWS_PROFILE'] })
      assert.match(locked.stdout, /boto3 object lock ok/)
    } finally {
      await lone.stop()
    }
  })
})
