import assert from 'node:assert/strict'
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DiskLayout } from '../../src/node/disk-layout.js'
import { CliError } from '../../src/node/cli-error.js'
import { webRTCDirectCertificate } from '../../src/node/webrtc-direct-cert.js'
// After the module under test, which loads what @peculiar/x509 needs first (reflect-metadata).
import * as x509 from '@peculiar/x509'

async function withLayout (run: (layout: DiskLayout) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-webrtc-cert-'))
  const layout = new DiskLayout(root)
  await mkdir(layout.tmp, { recursive: true })
  try { await run(layout) } finally { await rm(root, { recursive: true, force: true }) }
}

describe('webRTCDirectCertificate', () => {
  it('makes a certificate on the first start and gives the same one after', async () => {
    await withLayout(async layout => {
      const made = await webRTCDirectCertificate(layout)
      const cert = new X509Certificate(made.pem)
      assert.ok(cert.checkPrivateKey(createPrivateKey(made.privateKey)), 'the key is the certificate\'s')
      // Multibase base64url ('u') of a sha2-256 multihash (0x12, 32 bytes) of the DER.
      assert.equal(made.certhash[0], 'u')
      assert.deepEqual(Buffer.from(made.certhash.slice(1), 'base64url'), Buffer.concat([Buffer.from([0x12, 0x20]), createHash('sha256').update(cert.raw).digest()]))
      const again = await webRTCDirectCertificate(layout)
      assert.deepEqual(again, made)
    })
  })

  it('leaves @peculiar/x509\'s global crypto provider to the libraries that set it', async () => {
    // @libp2p/webrtc (and @libp2p/tls, were it added) set it to their own
    // @peculiar/webcrypto and make keys with that one; here, another object
    // standing for theirs.
    const theirs = { subtle: globalThis.crypto.subtle, getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto), randomUUID: globalThis.crypto.randomUUID.bind(globalThis.crypto) } as Crypto
    const before = x509.cryptoProvider.get()
    x509.cryptoProvider.set(theirs)
    await withLayout(async layout => {
      await webRTCDirectCertificate(layout)
      // Keys made for theirs stay keys for the provider their certificates are made with.
      assert.equal(x509.cryptoProvider.get(), theirs)
    }).finally(() => { x509.cryptoProvider.set(before) })
  })

  it('refuses a damaged file instead of replacing it', async () => {
    await withLayout(async layout => {
      await writeFile(join(layout.system, 'webrtc-direct.json'), '{"privateKey": 1')
      await assert.rejects(webRTCDirectCertificate(layout), (err: unknown) => err instanceof CliError && /damaged/.test(err.message))
    })
  })
})
