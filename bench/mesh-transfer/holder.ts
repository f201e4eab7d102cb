/**
 * The holding side of bench/mesh-transfer: a mesh member with a memory store
 * holding one random object per size, and the raw baseline protocol that
 * pushes the same bytes in the same chunks on a stream kept open. Runs in the benchmark's process,
 * or as its own process (`node --import tsx holder.ts <sizes...>`, cluster key
 * in S3MESH_BENCH_KEY; S3MESH_BENCH_STOCK_TCP=1 for @libp2p/tcp as it ships),
 * printing one JSON line: address, peer id, digests.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode, type InProcessNode } from '../../test/helpers/in-process-mesh.js'

export const RAW_PROTOCOL = '/s3mesh-bench/raw/1.0.0'
export const CHUNK = 256 * 1024

export interface Holder { node?: InProcessNode, addr: string, peer: string, sha256: Record<number, string> }

export async function startHolder (key: Uint8Array, sizes: number[], stockTcp = false): Promise<Holder> {
  const store = new MemoryStore()
  const node = await startInProcessNode({ key, store, stockTcp })
  await store.createBucket('bench')
  const objects = new Map<number, Uint8Array>()
  const sha256: Record<number, string> = {}
  for (const size of sizes) {
    const bytes = randomBytes(size)
    objects.set(size, bytes)
    sha256[size] = createHash('sha256').update(bytes).digest('hex')
    await store.putObject('bench', `obj-${size}`, streamOfBytes(bytes), { metadata: { user: {} }, size })
  }
  // The raw baseline: one stream kept open (as the transfer keeps its stream between fetches); each request is a
  // 4-byte size, answered with that many bytes of the object in CHUNK pieces, honouring drain, one request at a time.
  await node.libp2p.handle(RAW_PROTOCOL, (stream: Stream) => {
    const asked = new Uint8ArrayList()
    let serving = Promise.resolve()
    stream.addEventListener('message', e => {
      asked.append(e.data)
      while (asked.byteLength >= 4) {
        const size = asked.getUint32(0)
        asked.consume(4)
        serving = serving.then(async () => {
          const bytes = objects.get(size)!
          for (let i = 0; i < bytes.byteLength; i += CHUNK) {
            if (!stream.send(bytes.subarray(i, i + CHUNK))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
          }
        }).catch(err => { stream.abort(err instanceof Error ? err : new Error(String(err))) })
      }
    })
  })
  return { node, addr: node.libp2p.getMultiaddrs()[0]!.toString(), peer: node.libp2p.peerId.toString(), sha256 }
}

if (process.argv[1]?.endsWith('holder.ts') === true) {
  const holder = await startHolder(new Uint8Array(Buffer.from(process.env.S3MESH_BENCH_KEY!, 'base64')), process.argv.slice(2).map(Number), process.env.S3MESH_BENCH_STOCK_TCP === '1')
  process.stdout.write(JSON.stringify({ addr: holder.addr, peer: holder.peer, sha256: holder.sha256 }) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { process.exit(0) })
}
