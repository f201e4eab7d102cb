// @peculiar/x509 needs Reflect's metadata functions before it loads ("tsyringe requires a reflect polyfill"); @libp2p/webrtc brings them too, but this module must not depend on being loaded after it.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { codeOf, renameInto, writeDurable } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'
import { CliError } from './cli-error.js'

/** What @libp2p/webrtc's webRTCDirect({ certificate }) takes. */
export interface WebRTCDirectCertificate {
  /** PKCS#8 PEM of the ECDSA P-256 key. */
  privateKey: string
  /** PEM of the self-signed certificate. */
  pem: string
  /** Multibase base64url of the SHA-256 multihash of its DER: the /certhash/ in the node's addresses. */
  certhash: string
}

/**
 * Browsers check a WebRTC-direct peer by the certificate's hash in its
 * address, not by a CA or by its dates; a new certificate would change every
 * address a tab or a web app was given. So one is made on the first start,
 * valid for ten years, and kept 0600 in the data folder (libp2p's own would
 * change on each start and every 14 days).
 */
export async function webRTCDirectCertificate (layout: DiskLayout): Promise<WebRTCDirectCertificate> {
  const file = join(layout.system, 'webrtc-direct.json')
  let text: string | undefined
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw new CliError(`Cannot read ${file} (${codeOf(err) ?? String(err)}): it holds this node's WebRTC-direct certificate.`)
  }
  if (text !== undefined) {
    // A damaged file is not replaced quietly: a new certificate changes every WebRTC-direct address handed out.
    const damaged = (): CliError => new CliError(`${file} is damaged: delete it to give this node a new WebRTC-direct certificate (addresses with the old /certhash/ then stop working), or start with --no-webrtc-direct.`)
    let kept: Partial<WebRTCDirectCertificate> | null
    try {
      kept = JSON.parse(text) as Partial<WebRTCDirectCertificate> | null
    } catch {
      throw damaged()
    }
    if (kept === null || typeof kept.privateKey !== 'string' || typeof kept.pem !== 'string') throw damaged()
    let certhash: string
    try {
      certhash = certhashOf(kept.pem)
      if (!new X509Certificate(kept.pem).checkPrivateKey(createPrivateKey(kept.privateKey))) throw new Error('key and certificate do not match')
    } catch {
      throw damaged()
    }
    return { privateKey: kept.privateKey, pem: kept.pem, certhash }
  }
  const made = await makeCertificate()
  const tmp = layout.tmpPath('webrtc-direct.json')
  await writeDurable(tmp, JSON.stringify(made) + '\n', true, 0o600)
  await renameInto(tmp, file)
  return made
}

function certhashOf (pem: string): string {
  const der = new X509Certificate(pem).raw
  // A multihash: sha2-256 (0x12), 32 bytes (0x20), the digest; then multibase base64url ('u').
  return 'u' + Buffer.concat([Buffer.from([0x12, 0x20]), createHash('sha256').update(der).digest()]).toString('base64url')
}

async function makeCertificate (): Promise<WebRTCDirectCertificate> {
  // Node's WebCrypto, passed to the generator rather than set as
  // @peculiar/x509's global provider: @libp2p/webrtc (and @libp2p/tls, were
  // it added) set that global to their own @peculiar/webcrypto as they load,
  // and make keys for it; a member that changed it under them could no
  // longer make their certificates (Node's exportKey refuses a @peculiar key).
  const crypto = globalThis.crypto
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const notBefore = new Date()
  notBefore.setMilliseconds(0)
  const notAfter = new Date(notBefore.getTime() + 10 * 365 * 86_400_000)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=s3mesh webrtc-direct',
    notBefore,
    notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  }, crypto)
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64')
  const privateKey = ['-----BEGIN PRIVATE KEY-----', ...pkcs8.match(/.{1,64}/g)!, '-----END PRIVATE KEY-----'].join('\n')
  const pem = cert.toString('pem')
  return { privateKey, pem, certhash: certhashOf(pem) }
}
