/**
 * bench/scale: what a node's start and memory cost as the objects it holds
 * grow, with its own 10,000-object run as the baseline.
 *
 * For each size (10,000, 100,000, 1,000,000 small objects of 64 bytes in one
 * bucket, 1,000 keys per folder), the data folder is filled through the store
 * itself (DiskStore, fsync off, so that a million takes minutes), then the
 * real `s3mesh server` is started on it `--runs` times:
 *
 *   - alone (`--no-mesh`, `--scan-interval 5`): restart to ready (spawn
 *     until /health/ready answers 200), RSS once ready, ListObjectsV2 first
 *     page (1,000 keys) p50/p99 over 200 requests, HEAD of random keys
 *     p50/p99 over 500; then the folder scans: how long a scan that finds
 *     nothing new takes (s3mesh_adopt_last_scan_seconds), and from a file
 *     written into the bucket folder by hand until a listing shows it;
 *   - as a one-member mesh (the default): first, the start that takes the
 *     folder into the mesh catalog (until /metrics counts every object, in
 *     the background of a node already serving); then `--runs` restarts:
 *     restart to ready, RSS once ready and 5 s later (its check of its own
 *     copies runs in the background meanwhile). The catalog is on disk; each
 *     member still holds all of it (the partitioned catalog is not done);
 *   - a guest (what a browser tab is) joining that member: browser-join,
 *     a WebSockets connection, and the feed until it says `synced`, timed,
 *     with the bytes of every frame the feed sent (CBOR, before Noise); then
 *     a listing page of 1,000 keys asked through the guest protocol, p50/p99
 *     over 50. The guest is a Node libp2p client running the protocol a
 *     tab's GuestMember runs (a tab's own memory is not measured here).
 *
 * Goals (issue 19) at 1,000,000: restart to ready <= 3 s, RSS <= 300 MB,
 * first page p50 <= 1.5x the 10,000-object figure, a guest's join <= 1 MB.
 *
 * JSON (kept in bench/results/scale.json), then a one-line summary.
 *
 *   npm run bench:scale
 *   npm run bench:scale -- --runs 5
 *   npm run bench:scale -- --quick        # 2,000 and 20,000 objects, one run
 */
import { spawn } from 'node:child_process'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { encode } from 'cborg'
import { createLibp2p } from 'libp2p'
import { decodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'
import { GUEST_PROTOCOL } from '../../src/core/mesh/guest-service.js'
import { openStream } from '../../src/core/wire/open-stream.js'
import { PLAIN_FRAMES, SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { streamOfBytes } from '../../src/core/streams.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { ACCESS_KEY, BIN, SECRET_KEY } from '../../test/helpers/server-process.js'
import { signer } from '../../test/helpers/s3-client.js'
import { benchOptions, keep } from '../lib/keep.js'
import { percentile, round, showSpread, spread } from '../lib/stats.js'

const options = benchOptions(3)
const SIZES = options.quick ? [2_000, 20_000] : [10_000, 100_000, 1_000_000]
const PER_FOLDER = 1000
const BODY = new Uint8Array(64).fill(0x61)
const LISTS = 200
const HEADS = 500
const BUCKET = 'scale'
/** The node alone scans its folders this often (s): a file placed by hand is listed within it and the 2 s a file must rest. */
const SCAN_INTERVAL_S = 5

const keyOf = (i: number): string => `d${String(Math.floor(i / PER_FOLDER)).padStart(5, '0')}/k${String(i).padStart(7, '0')}`

/** Fills a data folder through the store: what a node that was written to over time holds. */
async function fill (dir: string, count: number): Promise<number> {
  const started = performance.now()
  const store = await DiskStore.open(dir, { fsync: false, scanIntervalMs: 0, log: () => {} })
  await store.createBucket(BUCKET)
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++
      await store.putObject(BUCKET, keyOf(i), streamOfBytes(BODY), { size: BODY.length, metadata: { contentType: 'text/plain', user: {} } })
    }
  }))
  await store.close()
  return (performance.now() - started) / 1000
}

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return round(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024)
}

interface Started { url: string, pid: number, readyMs: number, stop: () => Promise<void> }

/** Starts `s3mesh server` on the folder and waits (up to 15 min) until /health/ready answers 200. */
async function start (dir: string, mesh: boolean): Promise<Started> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, 'server', dir, '--address', '127.0.0.1:0', '--mesh-address', '127.0.0.1:0', '--no-console', ...(mesh ? [] : ['--no-mesh', '--scan-interval', String(SCAN_INTERVAL_S)])], {
    env: { ...process.env, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  let url: string | undefined
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${out}`)
    if (performance.now() - t0 > 15 * 60_000) throw new Error(`server not ready in 15 min:\n${out}`)
    url ??= /S3 API:\s+(https?:\/\/\S+)/.exec(out)?.[1]
    if (url !== undefined && (await fetch(`${url}/health/ready`).then(r => r.status, () => 0)) === 200) break
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return {
    url, pid: child.pid!, readyMs: performance.now() - t0,
    stop: async () => { child.kill('SIGTERM'); await exited },
  }
}

/** A number on the node's /metrics. */
async function metric (url: string, name: string): Promise<number> {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN)
}

/**
 * The node's folder scans: once the scan at start and one after it are done,
 * how long the last (nothing new) took; then a file is written into the
 * bucket folder by hand and listings are asked for until one shows it. The
 * file is removed after.
 */
async function folderScans (url: string, dir: string, run: number): Promise<{ idleScanMs: number, placedToListedMs: number }> {
  const t0 = performance.now()
  while (await metric(url, 's3mesh_adopt_scans_total') < 2) {
    if (performance.now() - t0 > 10 * 60_000) throw new Error('the node did not finish two folder scans in 10 min')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const idleScanMs = round(await metric(url, 's3mesh_adopt_last_scan_seconds') * 1000, 2)
  const key = `by-hand/file-${run}`
  await mkdir(join(dir, BUCKET, 'by-hand'), { recursive: true })
  const placed = performance.now()
  await writeFile(join(dir, BUCKET, key), 'placed by hand')
  for (;;) {
    const xml = await (await s3.fetch(`${url}/${BUCKET}?list-type=2&prefix=${encodeURIComponent(key)}`)).text()
    if (xml.includes(`<Key>${key}</Key>`)) break
    if (performance.now() - placed > 5 * 60_000) throw new Error(`${key}, placed by hand, was not listed in 5 min`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const placedToListedMs = round(performance.now() - placed)
  await rm(join(dir, BUCKET, 'by-hand'), { recursive: true, force: true })
  return { idleScanMs, placedToListedMs }
}

/**
 * A guest's join of the member at `url`: admission, connection, the feed's
 * snapshot (its frames' bytes counted), then listing pages through the guest
 * protocol.
 */
async function guestJoin (url: string): Promise<{ joinMs: number, feedBytes: number, feedEntries: number, listP50: number, listP99: number }> {
  const libp2p = await createLibp2p({
    transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }, services: { identify: identify() },
  })
  try {
    const t0 = performance.now()
    const res = await s3.fetch(`${url}/_s3mesh/v1/browser-join?peer=${libp2p.peerId.toString()}`)
    if (res.status !== 200) throw new Error(`browser-join answered ${res.status}: ${await res.text()}`)
    const answer = await res.json() as { admission: string, relays: string[] }
    const admission = new Uint8Array(Buffer.from(answer.admission, 'base64'))
    const relay = answer.relays[0]!
    const node = relay.split('/p2p/').at(-1)!
    await libp2p.dial(multiaddr(relay))
    const frames = new SealedFrames(await openStream(libp2p, node, GUEST_PROTOCOL, AbortSignal.timeout(60_000)), PLAIN_FRAMES, { idleTimeoutMs: 60_000 })
    await frames.send({ op: 'feed', admission, follow: false })
    let feedBytes = 0
    let feedEntries = 0
    for (;;) {
      const m = await frames.receive()
      feedBytes += encode(m).byteLength
      if (m.entries instanceof Uint8Array) feedEntries += decodeCatalogMessage(m.entries).entries.length
      if (m.synced === true) break
    }
    const joinMs = performance.now() - t0
    frames.abort(new Error('done'))
    const ms: number[] = []
    for (let i = 0; i < 50; i++) {
      const t = performance.now()
      const list = new SealedFrames(await openStream(libp2p, node, GUEST_PROTOCOL, AbortSignal.timeout(60_000)), PLAIN_FRAMES, { idleTimeoutMs: 60_000 })
      await list.send({ op: 'list', admission, bucket: BUCKET, limit: 1000 })
      const page = await list.receive()
      list.abort(new Error('done'))
      if (page.status !== 'ok') throw new Error(`list answered ${String(page.status)}`)
      ms.push(performance.now() - t)
    }
    return { joinMs: round(joinMs), feedBytes, feedEntries, listP50: round(percentile(ms, 50), 2), listP99: round(percentile(ms, 99), 2) }
  } finally {
    await libp2p.stop()
  }
}

async function latencies (n: number, request: (i: number) => Promise<Response>): Promise<{ p50: number, p99: number }> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    const res = await request(i)
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`answered ${res.status}`)
    ms.push(performance.now() - t)
  }
  return { p50: round(percentile(ms, 50), 2), p99: round(percentile(ms, 99), 2) }
}

const s3 = signer()
const results: Array<Record<string, unknown>> = []
for (const count of SIZES) {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-scale-'))
  try {
    const fillSeconds = await fill(dir, count)
    process.stderr.write(`scale: ${count} objects written through the store in ${fillSeconds.toFixed(1)} s\n`)
    const alone = { readyMs: [] as number[], rssMb: [] as number[], listP50: [] as number[], listP99: [] as number[], headP50: [] as number[], headP99: [] as number[], idleScanMs: [] as number[], placedToListedMs: [] as number[] }
    const meshed = { readyMs: [] as number[], rssMb: [] as number[], rssLaterMb: [] as number[] }
    const guest = { joinMs: [] as number[], feedBytes: [] as number[], feedEntries: [] as number[], listP50: [] as number[], listP99: [] as number[] }
    // The first start as a member takes every object into the catalog; the runs below are restarts.
    const first = await start(dir, true)
    let adoptSeconds: number
    try {
      const t0 = performance.now()
      for (;;) {
        const text = await (await fetch(`${first.url}/metrics`)).text()
        if (Number(/^s3mesh_catalog_objects (\S+)$/m.exec(text)?.[1]) >= count) break
        if (performance.now() - t0 > 30 * 60_000) throw new Error('the catalog did not take every object in 30 min')
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      adoptSeconds = (performance.now() - t0 + first.readyMs) / 1000
      process.stderr.write(`scale: ${count} objects taken into the catalog in ${adoptSeconds.toFixed(1)} s (ready after ${round(first.readyMs)} ms)\n`)
    } finally {
      await first.stop()
    }
    for (let run = 0; run < options.runs; run++) {
      const node = await start(dir, false)
      try {
        alone.readyMs.push(round(node.readyMs))
        alone.rssMb.push(await rssMb(node.pid))
        const list = await latencies(LISTS, async () => await s3.fetch(`${node.url}/${BUCKET}?list-type=2&max-keys=1000`))
        const head = await latencies(HEADS, async () => await s3.fetch(`${node.url}/${BUCKET}/${keyOf(Math.floor(Math.random() * count))}`, { method: 'HEAD' }))
        alone.listP50.push(list.p50)
        alone.listP99.push(list.p99)
        alone.headP50.push(head.p50)
        alone.headP99.push(head.p99)
        const scans = await folderScans(node.url, dir, run)
        alone.idleScanMs.push(scans.idleScanMs)
        alone.placedToListedMs.push(scans.placedToListedMs)
      } finally {
        await node.stop()
      }
      const member = await start(dir, true)
      try {
        meshed.readyMs.push(round(member.readyMs))
        meshed.rssMb.push(await rssMb(member.pid))
        await new Promise(resolve => setTimeout(resolve, 5000))
        meshed.rssLaterMb.push(await rssMb(member.pid))
        const joined = await guestJoin(member.url)
        guest.joinMs.push(joined.joinMs)
        guest.feedBytes.push(joined.feedBytes)
        guest.feedEntries.push(joined.feedEntries)
        guest.listP50.push(joined.listP50)
        guest.listP99.push(joined.listP99)
      } finally {
        await member.stop()
      }
      process.stderr.write(`scale: ${count} objects, run ${run + 1}: alone ready in ${alone.readyMs.at(-1)} ms (${alone.rssMb.at(-1)} MB), mesh member ready in ${meshed.readyMs.at(-1)} ms (${meshed.rssMb.at(-1)} MB)\n`)
    }
    const s = (values: number[]): ReturnType<typeof spread> => spread(values)
    results.push({
      objects: count,
      fillSeconds: round(fillSeconds),
      alone: {
        readyMs: s(alone.readyMs), rssMb: s(alone.rssMb), listFirstPageMs: { p50: s(alone.listP50), p99: s(alone.listP99) }, headMs: { p50: s(alone.headP50), p99: s(alone.headP99) },
        // A scan of every bucket folder that finds nothing changed, and a file placed by hand until it is listed (scans every SCAN_INTERVAL_S).
        idleScanMs: s(alone.idleScanMs), placedToListedMs: s(alone.placedToListedMs),
      },
      meshMember: { firstStartToCatalogSeconds: round(adoptSeconds), readyMs: s(meshed.readyMs), rssMb: s(meshed.rssMb), rssAfter5sMb: s(meshed.rssLaterMb) },
      guestJoin: { joinMs: s(guest.joinMs), feedBytes: s(guest.feedBytes), feedEntries: s(guest.feedEntries), listPageMs: { p50: s(guest.listP50), p99: s(guest.listP99) } },
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

type Row = { objects: number, guestJoin: { joinMs: { median: number }, feedBytes: { median: number } }, alone: { readyMs: { median: number }, rssMb: { median: number }, listFirstPageMs: { p50: { median: number } }, idleScanMs: { median: number }, placedToListedMs: { median: number } }, meshMember: { readyMs: { median: number }, rssMb: { median: number }, rssAfter5sMb: { median: number } } }
const rows = results as unknown as Row[]
const base = rows[0]!
const top = rows.at(-1)!
const goals = {
  readyMs: { goal: 3000, value: top.alone.readyMs.median, met: top.alone.readyMs.median <= 3000 },
  rssMb: { goal: 300, value: top.alone.rssMb.median, met: top.alone.rssMb.median <= 300 },
  listRatio: { goal: 1.5, value: round(top.alone.listFirstPageMs.p50.median / base.alone.listFirstPageMs.p50.median, 2), met: top.alone.listFirstPageMs.p50.median <= 1.5 * base.alone.listFirstPageMs.p50.median },
  meshReadyMs: { goal: 3000, value: top.meshMember.readyMs.median, met: top.meshMember.readyMs.median <= 3000 },
  guestJoinBytes: { goal: 1_000_000, value: top.guestJoin.feedBytes.median, met: top.guestJoin.feedBytes.median <= 1_000_000 },
  meshRssMb: { goal: 300, value: Math.max(top.meshMember.rssMb.median, top.meshMember.rssAfter5sMb.median), met: Math.max(top.meshMember.rssMb.median, top.meshMember.rssAfter5sMb.median) <= 300 },
}
await keep('scale', options, { sizes: SIZES, perFolder: PER_FOLDER, objectBytes: BODY.length, results, goals },
  `${top.objects} objects: alone ready ${top.alone.readyMs.median} ms (${base.objects}: ${base.alone.readyMs.median} ms), RSS ${top.alone.rssMb.median} MB (${base.alone.rssMb.median}), first page p50 ${top.alone.listFirstPageMs.p50.median} ms = ${goals.listRatio.value}x of ${base.objects}'s, an idle folder scan ${top.alone.idleScanMs.median} ms, a file placed by hand listed after ${top.alone.placedToListedMs.median} ms (scans every ${SCAN_INTERVAL_S} s); ` +
  `as a mesh member ready ${top.meshMember.readyMs.median} ms (${base.objects}: ${base.meshMember.readyMs.median} ms), RSS ${goals.meshRssMb.value} MB (${showSpread(spread(rows.map(r => Math.max(r.meshMember.rssMb.median, r.meshMember.rssAfter5sMb.median))), ' MB')} across sizes); ` +
  `a guest's join ${top.guestJoin.feedBytes.median} bytes in ${top.guestJoin.joinMs.median} ms (${base.objects}: ${base.guestJoin.feedBytes.median} bytes); ` +
  `goals: ready ${goals.readyMs.met ? 'met' : 'missed'}, RSS ${goals.rssMb.met ? 'met' : 'missed'}, page ${goals.listRatio.met ? 'met' : 'missed'}, mesh ready ${goals.meshReadyMs.met ? 'met' : 'missed'}, mesh RSS ${goals.meshRssMb.met ? 'met' : 'missed'}, join bytes ${goals.guestJoinBytes.met ? 'met' : 'missed'}`)
