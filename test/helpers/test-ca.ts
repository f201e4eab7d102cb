import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A throwaway certificate authority made with Debian's openssl, as an operator's private CA would be. */
export interface TestCa {
  dir: string
  /** PEM file of the CA's certificate: what clients (and Chromium) are told to trust. */
  certFile: string
  keyFile: string
}

export async function makeTestCa (name = 's3mesh test CA'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-ca-'))
  const certFile = join(dir, 'ca.crt')
  const keyFile = join(dir, 'ca.key')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  return { dir, certFile, keyFile }
}

/**
 * Issues a server certificate for `names` (host names and IP addresses) into
 * `certsDir` laid out as --certs-dir reads it: public.crt, private.key and,
 * with `trust`, CAs/ holding the CA.
 */
export async function issueCertificate (ca: TestCa, certsDir: string, names: string[], options: { trust?: boolean, days?: number } = {}): Promise<string> {
  await mkdir(certsDir, { recursive: true })
  const key = join(certsDir, 'private.key')
  const csr = join(certsDir, 'leaf.csr')
  const ext = join(certsDir, 'leaf.ext')
  const san = names.map(n => /^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`).join(',')
  await writeFile(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`)
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0]}`])
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', String(options.days ?? 1), '-out', join(certsDir, 'public.crt'), '-extfile', ext])
  if (options.trust === true) {
    await mkdir(join(certsDir, 'CAs'), { recursive: true })
    await run('cp', [ca.certFile, join(certsDir, 'CAs', 'test-ca.crt')])
  }
  return certsDir
}
