/**
 * Real `s3mesh server` and `s3mesh relay` processes on a lab's hosts (see
 * lab.ts), and the S3 client (s3-client.mjs) run from a host of its own: what
 * the multi-host tests and bench/mesh-wan drive.
 */
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Lab } from './lab.js'
import { issueCertificate, type TestCa } from '../helpers/test-ca.js'

export const BIN = fileURLToPath(new URL('../../bin/s3mesh.js', import.meta.url))
export const CLIENT = fileURLToPath(new URL('./s3-client.mjs', import.meta.url))
export const LAB_ACCESS_KEY = 'labaccesskey'
export const LAB_SECRET_KEY = 'lab-secret-key-1234'

export interface LabNode {
  host: string
  /** The S3 (or relay API) URL on the host's lab address. */
  url: string
  /** Its libp2p peer id ('' without a mesh). */
  id: string
  /** Its TCP mesh multiaddr on the lab address, with /p2p/: what --join takes. */
  meshAddress: string
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

/**
 * Starts `s3mesh <command> <dir>` on `host`, listening on every interface of
 * its namespace (it announces its lab address, never 0.0.0.0), and waits for
 * its banner.
 */
export async function startLabNode (lab: Lab, host: string, o: { command?: 'server' | 'relay', dataDir: string, args?: string[], env?: NodeJS.ProcessEnv }): Promise<LabNode> {
  const command = o.command ?? 'server'
  const args = [BIN, command, o.dataDir, '--address', '0.0.0.0:9000', '--mesh-address', '0.0.0.0:9100', ...(command === 'server' ? ['--console-address', '0.0.0.0:9002'] : []), ...(o.args ?? [])]
  const child = lab.spawn(host, process.execPath, args, {
    env: { ...process.env, S3MESH_ROOT_USER: LAB_ACCESS_KEY, S3MESH_ROOT_PASSWORD: LAB_SECRET_KEY, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${host} did not start in 30 s:\n${out}`)) }, 30_000)
    // The banner is one write: once its Health line is in, all of it is.
    child.stdout!.on('data', () => { if (/Health:.*\n/.test(out)) { clearTimeout(timer); resolve() } })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${host} exited with ${code}:\n${out}`)) })
  })
  const address = lab.address(host)
  const url = new RegExp(`(?:S3|Relay) API:\\s+(https?://${address.replace(/\./g, '\\.')}:\\d+)`).exec(out)?.[1]
  const id = /Mesh peer:\s+(\S+)/.exec(out)?.[1]
  if (url === undefined) throw new Error(`${host}'s banner names no URL on ${address}:\n${out}`)
  return {
    // A node started with --no-mesh has no peer id.
    host, url, id: id ?? '', meshAddress: id === undefined ? '' : `/ip4/${address}/tcp/9100/p2p/${id}`, child, output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * A node of the deployment tests: a certificate for its lab address from `ca`
 * (CAs/ trusting it), the WAN preset, the cluster `key`, joining `seed` if given.
 */
export async function startTlsLabNode (lab: Lab, host: string, o: { command: 'server' | 'relay', work: string, ca: TestCa, key: string, seed?: string }): Promise<LabNode> {
  const certs = await issueCertificate(o.ca, `${o.work}/${host}-certs`, [lab.address(host)], { trust: true })
  return await startLabNode(lab, host, {
    command: o.command, dataDir: `${o.work}/${host}`,
    args: ['--certs-dir', certs, '--membership', 'wan', ...(o.seed === undefined ? [] : ['--join', o.seed])],
    env: { S3MESH_CLUSTER_KEY: o.key, NODE_EXTRA_CA_CERTS: o.ca.certFile },
  })
}

export interface ClientLine { op?: string, key?: string, status: number, sha256?: string, ms?: number, at?: number, error?: string, body?: string }

/** Runs s3-client.mjs on `host` to its end; its JSON lines. */
export async function labClient (lab: Lab, host: string, args: string[], o: { ca?: string, input?: string, timeoutMs?: number } = {}): Promise<ClientLine[]> {
  const r = await lab.exec(host, process.execPath, [CLIENT, ...args], {
    timeoutMs: o.timeoutMs ?? 120_000,
    ...(o.input === undefined ? {} : { input: o.input }),
    env: { ...process.env, AWS_ACCESS_KEY_ID: LAB_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: LAB_SECRET_KEY, ...(o.ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: o.ca }) },
  })
  if (r.code !== 0) throw new Error(`s3-client ${args[0]} on ${host} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}`)
  return r.stdout.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as ClientLine)
}

/** Starts s3-client.mjs on `host` and hands each JSON line to `onLine` as it comes; resolves when it ends. */
export function labClientStream (lab: Lab, host: string, args: string[], onLine: (line: ClientLine) => void, o: { ca?: string } = {}): { done: Promise<void>, child: ChildProcess } {
  const child = lab.spawn(host, process.execPath, [CLIENT, ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: LAB_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: LAB_SECRET_KEY, ...(o.ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: o.ca }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let buffered = ''
  let errors = ''
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString()
    let nl
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.startsWith('{')) onLine(JSON.parse(line) as ClientLine)
    }
  })
  child.stderr!.on('data', (d: Buffer) => { errors += d.toString() })
  const done = new Promise<void>((resolve, reject) => child.once('exit', code => { if (code === 0) resolve(); else reject(new Error(`s3-client exited ${code}: ${errors}`)) }))
  return { done, child }
}
