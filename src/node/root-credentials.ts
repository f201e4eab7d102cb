import { randomBytes } from 'node:crypto'
import { readFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError } from './cli-error.js'
import { codeOf, renameInto, writeDurable } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'

export interface RootCredentials {
  accessKey: string
  secretKey: string
  /** Where they came from, for the banner. */
  source: 'environment' | 'file' | 'generated'
  file: string
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

function randomAccessKey (): string {
  return [...randomBytes(20)].map(b => ALNUM[b % ALNUM.length]).join('')
}

function randomSecret (): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B')
}

/** What a root access key may hold: printable ASCII but / and the comma, which split a SigV4 credential, and no space. */
const ROOT_USER = /^[\x21-\x2b\x2d\x2e\x30-\x7e]{3,128}$/
/** What a root secret may not hold: a control character (a newline from a file), or a space at either end. */
const ROOT_PASSWORD_WRONG = /[\x00-\x1f\x7f]|^\s|\s$/

/**
 * The root user's keys, as MinIO does it: S3MESH_ROOT_USER and
 * S3MESH_ROOT_PASSWORD when set; otherwise the ones saved in the data folder;
 * otherwise new random ones, saved there with mode 0600.
 */
export async function loadRootCredentials (layout: DiskLayout, env: NodeJS.ProcessEnv): Promise<RootCredentials> {
  const file = join(layout.system, 'credentials.json')
  const user = env.S3MESH_ROOT_USER
  const password = env.S3MESH_ROOT_PASSWORD
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) throw new CliError('Set both S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD, or neither (then s3mesh keeps generated keys in the data folder).', 2)
    if (user === '' || password === '') throw new CliError(`${user === '' ? 'S3MESH_ROOT_USER' : 'S3MESH_ROOT_PASSWORD'} is set but empty: unset it, or give it a value.`, 2)
    if (user.length < 3) throw new CliError('S3MESH_ROOT_USER must be at least 3 characters long.', 2)
    if (password.length < 8) throw new CliError('S3MESH_ROOT_PASSWORD must be at least 8 characters long.', 2)
    // A signature's Credential=KEY/date/... is split on / and , and a key with either (or a space) could never sign.
    if (!ROOT_USER.test(user)) throw new CliError('S3MESH_ROOT_USER may hold printable ASCII but / and the comma, and no space, at most 128 characters: a SigV4 request could not name another.', 2)
    // A trailing newline from a file or a pasted space would be part of the secret every client must then send.
    if (ROOT_PASSWORD_WRONG.test(password)) throw new CliError('S3MESH_ROOT_PASSWORD holds a control character (a newline?) or begins or ends with a space: remove it, or every client would have to send it too.', 2)
    return { accessKey: user, secretKey: password, source: 'environment', file }
  }
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { accessKey?: unknown, secretKey?: unknown } | null
    if (typeof saved !== 'object' || saved === null || typeof saved.accessKey !== 'string' || typeof saved.secretKey !== 'string') throw new CliError(`${file} is damaged: delete it to generate new keys.`)
    await chmod(file, 0o600)
    return { accessKey: saved.accessKey, secretKey: saved.secretKey, source: 'file', file }
  } catch (err) {
    if (err instanceof SyntaxError) throw new CliError(`${file} is damaged (not JSON): delete it to generate new keys.`)
    if (codeOf(err) !== 'ENOENT') throw err
  }
  const creds = { accessKey: randomAccessKey(), secretKey: randomSecret() }
  const tmp = layout.tmpPath('credentials')
  await writeDurable(tmp, JSON.stringify(creds, null, 2) + '\n', true, 0o600)
  await renameInto(tmp, file)
  return { ...creds, source: 'generated', file }
}
