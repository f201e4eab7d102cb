import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { CliError } from './cli-error.js'
import { codeOf } from './disk-files.js'

/** A node's TLS material as MinIO lays it out: DIR/public.crt, DIR/private.key (PEM), DIR/CAs/ for peers' CAs. */
export interface Certificates {
  /** The folder they came from, for messages. */
  dir: string
  /** PEM of the certificate chain (leaf first). */
  cert: string
  /** PEM of the private key. */
  key: string
  /** PEM certificates found in DIR/CAs/ (any *.crt, *.pem, *.cer): trusted for connections this node makes. */
  cas: string[]
  /** The leaf's subject alternative names and expiry, for the banner and the log. */
  names: string[]
  validTo: Date
  /** SHA-256 fingerprint of the leaf (colon-separated hex), to tell a reload's certificate from the last. */
  fingerprint: string
}

async function readPem (file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    const code = codeOf(err)
    if (code === 'ENOENT') throw new CliError(`--certs-dir: ${file} is missing: put the ${what} there in PEM.`, 2)
    if (code === 'EACCES' || code === 'EPERM') throw new CliError(`--certs-dir: ${file} cannot be read by this user (permission denied).`, 2)
    if (code === 'EISDIR') throw new CliError(`--certs-dir: ${file} is a folder, not the ${what}.`, 2)
    throw new CliError(`--certs-dir: cannot read ${file}: ${String(err)}`, 2)
  }
}

/**
 * Reads and checks DIR's certificate and key: each must parse, and the key
 * must be the certificate's. Every problem names the file, so the start (or a
 * reload, which keeps the old pair) says what to fix.
 */
export async function loadCertificates (dir: string): Promise<Certificates> {
  const certFile = join(dir, 'public.crt')
  const keyFile = join(dir, 'private.key')
  const cert = await readPem(certFile, 'certificate (public.crt)')
  const key = await readPem(keyFile, 'private key (private.key)')
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch (err) {
    throw new CliError(`--certs-dir: ${certFile} is not a PEM certificate (${err instanceof Error ? err.message : String(err)}).`, 2)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw new CliError(`--certs-dir: ${keyFile} is not a PEM private key, or it is encrypted (${err instanceof Error ? err.message : String(err)}). s3mesh reads unencrypted keys only.`, 2)
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CliError(`--certs-dir: ${keyFile} is not the key of the certificate in ${certFile}: they do not match.`, 2)
  }
  const validTo = new Date(leaf.validTo)
  if (validTo.getTime() < Date.now()) {
    throw new CliError(`--certs-dir: the certificate in ${certFile} expired on ${validTo.toISOString()}.`, 2)
  }
  const cas: string[] = []
  const caDir = join(dir, 'CAs')
  let entries: string[] = []
  try {
    entries = (await readdir(caDir)).filter(n => /\.(crt|pem|cer)$/i.test(n)).sort()
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw new CliError(`--certs-dir: cannot read ${caDir}: ${String(err)}`, 2)
  }
  for (const name of entries) {
    const file = join(caDir, name)
    const pem = await readPem(file, 'CA certificate')
    try {
      // A file may hold several; each must parse.
      for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) new X509Certificate(block)
    } catch (err) {
      throw new CliError(`--certs-dir: ${file} is not a PEM certificate (${err instanceof Error ? err.message : String(err)}).`, 2)
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`--certs-dir: ${file} holds no PEM certificate.`, 2)
    cas.push(pem)
  }
  // The same check a TLS server makes at start, so a bad chain fails here with the file's name, not at the first handshake.
  try {
    tls.createSecureContext({ key, cert })
  } catch (err) {
    throw new CliError(`--certs-dir: ${certFile} and ${keyFile} cannot serve TLS: ${err instanceof Error ? err.message : String(err)}`, 2)
  }
  const names = (leaf.subjectAltName ?? '').split(',').map(s => s.trim().replace(/^(DNS|IP Address):/, '')).filter(s => s !== '')
  return { dir, cert, key, cas, names, validTo, fingerprint: leaf.fingerprint256 }
}

/**
 * Trusts DIR/CAs/ for this process's own TLS connections (fetch, WebSockets
 * to peers), on top of the system's CAs. Node 22.19+ and 24.5+ have
 * tls.setDefaultCACertificates; on older lines it answers false and the
 * caller says that NODE_EXTRA_CA_CERTS does the same.
 */
export function trustCertificateAuthorities (cas: string[]): boolean {
  if (cas.length === 0) return true
  const set = (tls as unknown as { setDefaultCACertificates?: (certs: string[]) => void, getCACertificates?: (kind: string) => string[] })
  if (set.setDefaultCACertificates === undefined || set.getCACertificates === undefined) return false
  // The process's own CAs as they were before the first call: a reload replaces the folder's, never piles them up.
  processCas ??= set.getCACertificates('default')
  set.setDefaultCACertificates([...processCas, ...cas])
  return true
}

let processCas: string[] | undefined
