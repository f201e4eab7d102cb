import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ACCESS_KEY, SECRET_KEY } from './server-process.js'

/**
 * Registers a client's tests when its program is installed. Elsewhere the
 * suite shows a skipped line that says what to install; under CI (CI=true),
 * where .ci/run installs every client, a missing one is a failure.
 */
export function describeClient (name: string, program: string, install: string, body: () => void): void {
  if (existsSync(program)) {
    describe(name, body)
  } else if (process.env.CI === 'true') {
    describe(name, () => { it(`${program} is installed`, () => { throw new Error(`${program} is missing: ${install}`) }) })
  } else {
    describe(name, { skip: `${program} not found: ${install} to run these tests` }, () => {})
  }
}

export interface RunResult { stdout: string, stderr: string }

/** Runs a program and resolves with its output; rejects with both streams when it exits non-zero. */
export function run (program: string, args: string[], env: NodeJS.ProcessEnv = {}, options: { unset?: string[] } = {}): Promise<RunResult> {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  for (const k of options.unset ?? []) delete fullEnv[k]
  return new Promise((resolve, reject) => {
    execFile(program, args, { env: fullEnv, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${program} ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

export interface Fixtures {
  dir: string
  small: string
  smallText: string
  big: string
  bigSha256: string
  cleanup: () => Promise<void>
}

/** A small text file and a 50 MiB random file: large enough that every client switches to multipart. */
export async function makeFixtures (): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-client-'))
  const smallText = 'hello from a real S3 client\n'
  const big = randomBytes(50 * 1024 * 1024)
  await writeFile(join(dir, 'small.txt'), smallText)
  await writeFile(join(dir, 'fifty.bin'), big)
  return {
    dir, small: join(dir, 'small.txt'), smallText, big: join(dir, 'fifty.bin'),
    bigSha256: createHash('sha256').update(big).digest('hex'),
    cleanup: async () => { await rm(dir, { recursive: true, force: true }) },
  }
}

export async function sha256File (path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

/** Variables of this machine's own AWS setup that would change what aws-cli does: run(..., { unset: AWS_UNSET }). */
export const AWS_UNSET = ['AWS_CA_BUNDLE', 'AWS_PROFILE']

/**
 * The environment for aws-cli against an s3mesh node: the root credentials,
 * path-style addressing and one attempt per request (a config file written
 * into `dir`: aws-cli retries a 5xx up to twice by default, which would hide
 * the server's first answer), no credentials file or instance metadata.
 */
export async function awsCliEnv (dir: string): Promise<NodeJS.ProcessEnv> {
  const config = join(dir, 'aws-config')
  await writeFile(config, '[default]\nregion = us-east-1\nretry_mode = standard\nmax_attempts = 1\ns3 =\n  addressing_style = path\n')
  return { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true' }
}
