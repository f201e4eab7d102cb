import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ACCESS_KEY = 'benchaccesskey'
export const SECRET_KEY = 'bench-secret-key-123'

export interface Target {
  name: string
  url: string
  /** Keys this server accepts (s3rver knows only its built-in S3RVER pair). */
  accessKey: string
  secretKey: string
  /** The server's pid, for CPU and RSS readings. */
  pid: number
  stop: () => Promise<void>
}

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100

/** CPU time a process has used so far, in ms (user and system), from /proc/<pid>/stat. */
export async function cpuMs (pid: number): Promise<{ user: number, system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) * 1000 / TICKS_PER_SECOND, system: Number(fields[12]) * 1000 / TICKS_PER_SECOND }
}

async function spawnUntil (name: string, command: string, args: string[], ready: RegExp, dir: string, keys = { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }): Promise<Target> {
  const child: ChildProcess = spawn(command, args, {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY },
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) resolve(m[1]!.startsWith('http') ? m[1]! : `http://127.0.0.1:${m[1]}`)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', code => { reject(new Error(`${name} exited (${code}): ${out}`)) })
  })
  return {
    name, url, pid: child.pid!, ...keys,
    stop: async () => {
      child.kill('SIGKILL')
      await new Promise(resolve => child.once('exit', resolve))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function dataDir (name: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), `s3mesh-bench-${name}-`))
}

export async function startS3mesh (fsync = true): Promise<Target> {
  const dir = await dataDir('s3mesh')
  return await spawnUntil(fsync ? 's3mesh' : 's3mesh-nofsync', process.execPath, ['bin/s3mesh.js', 'server', dir, '--address', '127.0.0.1:0', '--mesh-address', '127.0.0.1:0', ...(fsync ? [] : ['--no-fsync'])], /S3 API:\s+(http:\/\/\S+)/, dir)
}

export async function startS3rver (): Promise<Target> {
  const dir = await dataDir('s3rver')
  // s3rver 3.7 needs the legacy OpenSSL provider on Node 17+ (it uses MD5 via an old API for listings).
  return await spawnUntil('s3rver', process.execPath, ['--openssl-legacy-provider', 'node_modules/s3rver/bin/s3rver.js', '-d', dir, '-a', '127.0.0.1', '-p', '0', '--allow-mismatched-signatures', '--no-vhost-buckets'], /listening on .*:(\d+)/i, dir, { accessKey: 'S3RVER', secretKey: 'S3RVER' })
}

export async function startNull (): Promise<Target> {
  return await spawnUntil('null', process.execPath, ['--import', 'tsx', 'bench/s3-http/null-server.ts'], /listening (\d+)/, await dataDir('null'))
}

export async function startRaw (): Promise<Target> {
  const dir = await dataDir('raw')
  return await spawnUntil('raw', process.execPath, ['--import', 'tsx', 'bench/s3-http/raw-server.ts', dir], /listening (\d+)/, dir)
}
