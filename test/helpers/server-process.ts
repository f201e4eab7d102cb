import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/s3mesh.js', import.meta.url))
export const ACCESS_KEY = 'testaccesskey'
export const SECRET_KEY = 'test-secret-key-1234'

export interface ServerProcess {
  url: string
  port: number
  /** The node's mesh TCP multiaddr (what --join takes), when it runs a mesh. */
  meshAddress?: string
  /** Where the console, /s3mesh.js and /s3mesh-sw.js are served. */
  consoleUrl?: string
  dataDir: string
  child: ChildProcess
  output: () => string
  /** SIGTERM and wait; the data folder stays unless `remove`. */
  stop: (options?: { remove?: boolean, signal?: NodeJS.Signals }) => Promise<number | null>
}

/**
 * Starts the real `s3mesh server` (the built bin, as a user runs it) on a free
 * port with known root credentials, and waits for its banner.
 */
export async function startServerProcess (options: { dataDir?: string, args?: string[], env?: NodeJS.ProcessEnv, command?: 'server' | 'relay' } = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 's3mesh-test-'))
  const command = options.command ?? 'server'
  const child = spawn(process.execPath, [BIN, command, dataDir, '--address', '127.0.0.1:0', '--mesh-address', '127.0.0.1:0', ...(command === 'server' ? ['--console-address', '127.0.0.1:0'] : []), ...(options.args ?? [])], {
    env: { ...process.env, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // One that did not start is not left running (nor its folder, when made here).
      child.kill('SIGKILL')
      if (options.dataDir === undefined) void exited.then(async () => { await rm(dataDir, { recursive: true, force: true }) })
      reject(new Error(`server did not start in 20 s:\n${out}`))
    }, 20_000)
    const check = (): void => {
      const m = /(?:S3|Relay) API:\s+(https?:\/\/\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    }
    child.stdout!.on('data', check)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${out}`)) })
  })
  await new Promise(resolve => setTimeout(resolve, 50))
  const meshAddress = /^\s+(\/ip4\/\S+\/tcp\/\d+\/p2p\/\S+)$/m.exec(out)?.[1]
  return {
    url,
    meshAddress,
    consoleUrl: /Console:\s+(https?:\/\/\S+)/.exec(out)?.[1],
    port: Number(new URL(url).port),
    dataDir,
    child,
    output: () => out,
    stop: async ({ remove = true, signal = 'SIGTERM' } = {}) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const code = await exited
      if (remove) await rm(dataDir, { recursive: true, force: true })
      return code
    },
  }
}

/** The sum of every series of a metric on a node's /metrics (all label values): `s3mesh_http_requests_total` counts every S3 request it answered. */
export async function metricSum (node: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

/** A figure from a node's /metrics (`name` may carry labels, as in `s3mesh_members{state="failed"}`); NaN when absent. */
export async function metric (node: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const m = new RegExp(`^${name.replace(/[{}"]/g, c => `\\${c}`)} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}
