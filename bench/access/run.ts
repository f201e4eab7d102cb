/**
 * bench/access: what the access layer costs, and how fast a revocation
 * reaches every member.
 *
 * 1. GET of 64 KiB with the AWS SDK (8 at a time) as root and as a user whose
 *    policies hold 20 statements (an inline policy of its own, a group's
 *    inline and attached policies, one statement that allows, a Deny whose
 *    condition does not hold, the rest naming other buckets), on one node,
 *    in the same round, in short blocks alternating ABBA. Goal: the user's ops/s at
 *    least 95% of root's.
 * 2. Revocation: five `s3mesh server` processes in one mesh; a user's key is
 *    accepted by all five, then disabled through node 1 (IAM SetUserStatus);
 *    from the IAM call's answer until the last of the five refuses the key
 *    (each node asked every 5 ms). 20 trials: p50 and p99. Goal: p99 < 2 s.
 *    In the same trials, a guest (what a browser tab is: a libp2p peer with
 *    the user's admission, connected to all five) asks each node on its
 *    guest protocol every 5 ms: until the last refuses it as revoked. Goal:
 *    within the admission's lifetime (60 s by default); the S3 key's
 *    revocation is its baseline.
 *
 * JSON (kept in bench/results/access.json), then a one-line summary.
 *
 *   npm run bench:access
 *   npm run bench:access -- --runs 9      # rounds of part 1 (default 5)
 *   npm run bench:access -- --quick
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { GUEST_PROTOCOL } from '../../src/core/mesh/guest-service.js'
import { openStream } from '../../src/core/wire/open-stream.js'
import { PLAIN_FRAMES, SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { median, percentile, round, showSpread, spread } from '../lib/stats.js'
import { client, ensureBucket, putKeys, sdkGet, type LoadResult } from '../s3-http/sdk-load.js'

const options = benchOptions(5)
const quick = options.quick
const SIZE = 64 * 1024
const COUNT = quick ? 300 : 2000
const CONCURRENCY = 8
const TRIALS = quick ? 5 : 20
const POLL_MS = 5

/** An IAM call as root; throws with IAM's message unless it answers 200. */
async function iam (url: string, params: Record<string, string>): Promise<string> {
  const signer = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'iam')
  const res = await signer.fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString() })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`IAM ${params.Action}: ${res.status} ${text}`)
  return text
}

async function newUserKey (url: string, name: string): Promise<{ id: string, secret: string }> {
  await iam(url, { Action: 'CreateUser', UserName: name })
  const xml = await iam(url, { Action: 'CreateAccessKey', UserName: name })
  return { id: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secret: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! }
}

const statement = (effect: string, action: string, resource: string, condition?: unknown): Record<string, unknown> => ({ Effect: effect, Action: action, Resource: resource, ...(condition === undefined ? {} : { Condition: condition }) })
const doc = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements })

/** 20 statements over four policies; one allows the GET, one Deny does not apply (its condition fails), the rest name other buckets. */
async function twentyStatementUser (url: string): Promise<{ id: string, secret: string, statements: number }> {
  const key = await newUserKey(url, 'bench-user')
  const others = (n: number, from: number): unknown[] => Array.from({ length: n }, (_, i) => statement('Allow', 's3:*', `arn:aws:s3:::other-${from + i}/*`))
  const own = [...others(7, 0), statement('Allow', 's3:GetObject', 'arn:aws:s3:::bench/*'), statement('Deny', 's3:*', 'arn:aws:s3:::bench/*', { Bool: { 'aws:SecureTransport': 'true' } })]
  await iam(url, { Action: 'PutUserPolicy', UserName: 'bench-user', PolicyName: 'own', PolicyDocument: doc(own) })
  await iam(url, { Action: 'CreateGroup', GroupName: 'bench-group' })
  await iam(url, { Action: 'AddUserToGroup', GroupName: 'bench-group', UserName: 'bench-user' })
  const group = others(6, 10)
  await iam(url, { Action: 'PutGroupPolicy', GroupName: 'bench-group', PolicyName: 'group', PolicyDocument: doc(group) })
  const managed = others(5, 20)
  await iam(url, { Action: 'CreatePolicy', PolicyName: 'bench-managed', PolicyDocument: doc(managed) })
  await iam(url, { Action: 'AttachGroupPolicy', GroupName: 'bench-group', PolicyArn: 'bench-managed' })
  return { ...key, statements: own.length + group.length + managed.length }
}

async function partOne (): Promise<{ rounds: Array<{ root: LoadResult, user: LoadResult, ratio: number }>, statements: number }> {
  const node = await startServerProcess({ args: ['--no-mesh'] })
  try {
    const user = await twentyStatementUser(node.url)
    const root = client({ name: 'root', url: node.url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, pid: 0, stop: async () => {} })
    const asUser = client({ name: 'user', url: node.url, accessKey: user.id, secretKey: user.secret, pid: 0, stop: async () => {} })
    await ensureBucket(root, 'bench')
    await putKeys(root, 'bench', 'sdk', SIZE, COUNT)
    // Warm both paths (connections, JIT) before measuring.
    await sdkGet(root, 'bench', SIZE, Math.min(COUNT, 200), CONCURRENCY)
    await sdkGet(asUser, 'bench', SIZE, Math.min(COUNT, 200), CONCURRENCY)
    const rounds: Array<{ root: LoadResult, user: LoadResult, ratio: number }> = []
    // Each round alternates short blocks in an ABBA order (root, user, user, root, ...), so that drift in the
    // machine's speed during a round falls on both alike; a round's figure is its blocks' ops over their time.
    const order = ['root', 'user', 'user', 'root', 'root', 'user'] as const
    const block = Math.ceil(COUNT / 3)
    for (let r = 0; r < options.runs; r++) {
      process.stderr.write(`access: GET as root and as a 20-statement user, round ${r + 1} of ${options.runs}\n`)
      const results: Record<'root' | 'user', LoadResult[]> = { root: [], user: [] }
      for (const who of order) results[who].push(await sdkGet(who === 'root' ? root : asUser, 'bench', SIZE, block, CONCURRENCY))
      const combine = (list: LoadResult[]): LoadResult => {
        const ops = list.reduce((n, x) => n + x.ops, 0)
        const seconds = list.reduce((n, x) => n + x.seconds, 0)
        return { ops, seconds: round(seconds, 2), opsPerSec: round(ops / seconds), mbPerSec: round(ops * SIZE / seconds / 1e6), p50ms: round(median(list.map(x => x.p50ms)), 2), p99ms: round(Math.max(...list.map(x => x.p99ms)), 2), errors: 0 }
      }
      const rootResult = combine(results.root)
      const userResult = combine(results.user)
      rounds.push({ root: rootResult, user: userResult, ratio: userResult.opsPerSec / rootResult.opsPerSec })
    }
    root.destroy()
    asUser.destroy()
    return { rounds, statements: user.statements }
  } finally {
    await node.stop()
  }
}

/** Whether `node` accepts the key: 200 from access/me, 403 once refused. */
async function accepts (node: ServerProcess, key: { id: string, secret: string }): Promise<boolean> {
  const res = await s3Signer({ accessKeyId: key.id, secretAccessKey: key.secret }).fetch(`${node.url}/_s3mesh/v1/access/me`)
  await res.arrayBuffer()
  if (res.status !== 200 && res.status !== 403) throw new Error(`access/me answered ${res.status}`)
  return res.status === 200
}

async function until (what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A guest of the mesh (what a tab is), admitted for the key by node 0 and connected to every node over WebSockets. */
async function guestOf (nodes: ServerProcess[], key: { id: string, secret: string }): Promise<{ refused: (node: ServerProcess) => Promise<boolean>, stop: () => Promise<void> }> {
  const privateKey = await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(privateKey).toString()
  const libp2p = await createLibp2p({ privateKey, transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false }, services: { identify: identify() } })
  const join = async (n: ServerProcess): Promise<{ admission: string, relays: string[] }> => await (await s3Signer({ accessKeyId: key.id, secretAccessKey: key.secret }).fetch(`${n.url}/_s3mesh/v1/browser-join?peer=${peer}`)).json() as { admission: string, relays: string[] }
  const { admission } = await join(nodes[0]!)
  for (const n of nodes) await libp2p.dial(multiaddr((await join(n)).relays[0]!))
  const bytes = new Uint8Array(Buffer.from(admission, 'base64'))
  return {
    // Refused as revoked: any other answer (found, not found, denied for want of a policy) means it got past the admission.
    refused: async n => {
      const frames = new SealedFrames(await openStream(libp2p, n.meshAddress!.split('/p2p/')[1]!, GUEST_PROTOCOL, AbortSignal.timeout(5000)), PLAIN_FRAMES, { idleTimeoutMs: 5000 })
      try {
        await frames.send({ op: 'lookup', admission: bytes, bucket: 'guest-probe' })
        return (await frames.receive()).reason === 'revoked'
      } finally {
        frames.abort(new Error('done'))
      }
    },
    stop: async () => { await libp2p.stop() },
  }
}

async function partTwo (): Promise<{ keys: number[], guests: number[] }> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const nodes: ServerProcess[] = [await startServerProcess({ env, args: ['--membership', 'local'] })]
  try {
    for (let i = 0; i < 4; i++) nodes.push(await startServerProcess({ env, args: ['--membership', 'local', '--join', nodes[0]!.meshAddress!] }))
    const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
    await until('five members alive on every node', async () => (await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length))).every(c => c === 5), 60_000)
    const times: number[] = []
    const guestTimes: number[] = []
    for (let t = 0; t < TRIALS; t++) {
      const name = `revoked-${t}`
      const key = await newUserKey(nodes[0]!.url, name)
      await until(`every node accepts ${name}`, async () => (await Promise.all(nodes.map(async n => await accepts(n, key)))).every(Boolean), 30_000)
      const guest = await guestOf(nodes, key)
      try {
        if ((await Promise.all(nodes.map(guest.refused))).some(Boolean)) throw new Error(`a node refused ${name}'s guest before the revocation`)
        await iam(nodes[0]!.url, { Action: 'SetUserStatus', UserName: name, Status: 'Disabled' })
        const answered = performance.now()
        const poll = async (refused: () => Promise<boolean>, what: string): Promise<number> => {
          while (!(await refused())) {
            if (performance.now() - answered > 30_000) throw new Error(`${what} still accepted after 30 s`)
            await new Promise(resolve => setTimeout(resolve, POLL_MS))
          }
          return performance.now()
        }
        const [keyAt, guestAt] = await Promise.all([
          Promise.all(nodes.map(async n => await poll(async () => !(await accepts(n, key)), `${name}'s key on ${n.url}`))),
          Promise.all(nodes.map(async n => await poll(async () => await guest.refused(n), `${name}'s guest on ${n.url}`))),
        ])
        times.push(Math.max(...keyAt) - answered)
        guestTimes.push(Math.max(...guestAt) - answered)
      } finally {
        await guest.stop()
      }
      process.stderr.write(`access: revocation trial ${t + 1} of ${TRIALS}: the last of 5 refused the key after ${round(times.at(-1)!)} ms, the guest after ${round(guestTimes.at(-1)!)} ms\n`)
    }
    return { keys: times, guests: guestTimes }
  } finally {
    for (const n of nodes) await n.stop()
  }
}

const one = await partOne()
const { keys: revocations, guests } = await partTwo()
const ratio = spread(one.rounds.map(r => r.ratio))
const revocation = { trials: revocations.length, p50ms: round(percentile(revocations, 50)), p99ms: round(percentile(revocations, 99)), maxMs: round(Math.max(...revocations)), runsMs: revocations.map(v => round(v)) }
const guestRevocation = { trials: guests.length, p50ms: round(percentile(guests, 50)), p99ms: round(percentile(guests, 99)), maxMs: round(Math.max(...guests)), runsMs: guests.map(v => round(v)) }
await keep('access', options, {
  get: { size: SIZE, count: COUNT, concurrency: CONCURRENCY, statements: one.statements, root: spread(one.rounds.map(r => r.root.opsPerSec), 1), user: spread(one.rounds.map(r => r.user.opsPerSec), 1), userOverRoot: ratio, rounds: one.rounds },
  revocation: { nodes: 5, pollMs: POLL_MS, ...revocation },
  guestRevocation: { nodes: 5, pollMs: POLL_MS, ...guestRevocation },
  goals: { userOverRoot: 0.95, revocationP99Ms: 2000, guestRevocationMs: 60_000 },
}, `GET 64 KiB as a ${one.statements}-statement user over root: ${showSpread(ratio, 'x')} (goal 0.95x, median of ${options.runs}); ` +
  `revocation to the last of 5 processes over ${revocation.trials} trials: p50 ${revocation.p50ms} ms, p99 ${revocation.p99ms} ms (goal p99 < 2000 ms); ` +
  `its guest (a tab's admission) refused by the last of 5: p50 ${guestRevocation.p50ms} ms, p99 ${guestRevocation.p99ms} ms (goal < 60000 ms, the admission's lifetime)`)
process.exit(0)
