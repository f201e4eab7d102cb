/**
 * One raw gossipsub peer in its own process, for bench/mesh-convergence-processes:
 * the same libp2p stack as a node (TCP, Noise, yamux, identify, gossipsub),
 * nothing else. Prints its address; dials the addresses it is given; on
 * `pub <id>` (stdin) publishes a 1 KiB message and prints `sent <id> <ms>`,
 * and prints `recv <id> <ms>` for every message it receives (ms: this
 * machine's clock, sub-millisecond, comparable across processes); with
 * RAW_PEER_QUIET=1 it prints nothing per message (a CPU baseline, bench/cluster-cpu).
 */
import { createInterface } from 'node:readline'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { GOSSIPSUB_OPTIONS, INBOUND_CONNECTIONS_PER_HOST_PER_SECOND } from '../../src/core/mesh/config.js'

const TOPIC = '/s3mesh-bench/raw/1'
const now = (): number => performance.timeOrigin + performance.now()

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
  // As the nodes do: twenty peers on one machine dial each other within a second.
  connectionManager: { inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND },
  // Members' settings, but gossipsub forwards each message as it arrives: nothing here decides it (SealedTopic does on members).
  services: { identify: identify(), pubsub: gossipsub({ ...GOSSIPSUB_OPTIONS, asyncValidation: false }) },
})
node.services.pubsub.subscribe(TOPIC)
const quiet = process.env.RAW_PEER_QUIET === '1'
node.services.pubsub.addEventListener('message', e => {
  if (e.detail.topic !== TOPIC || quiet) return
  const id = new TextDecoder().decode(e.detail.data.subarray(0, 16)).trim()
  process.stdout.write(`recv ${id} ${now()}\n`)
})
process.stdout.write(`addr ${node.getMultiaddrs()[0]!.toString()}\n`)
for (const a of process.argv.slice(2)) await node.dial(multiaddr(a)).catch(() => {})
createInterface({ input: process.stdin }).on('line', line => {
  const [op, id] = line.split(' ')
  if (op !== 'pub' || id === undefined) return
  const data = new Uint8Array(1024)
  data.set(new TextEncoder().encode(id.padEnd(16)))
  const t = now()
  const sent = (): void => { if (!quiet) process.stdout.write(`sent ${id} ${t}\n`) }
  void node.services.pubsub.publish(TOPIC, data).then(sent, sent)
}).on('close', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
