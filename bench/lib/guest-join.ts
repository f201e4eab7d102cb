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
import { percentile, round } from './stats.js'

/**
 * A guest's join of the member at `url`, as a tab's GuestMember makes it
 * (from a Node libp2p client): admission (browser-join, signed with `s3`),
 * a WebSockets connection, the feed until it says `synced` (timed, with the
 * bytes of every frame it sent: CBOR, before Noise), then 50 listing pages
 * of 1,000 keys of `bucket` through the guest protocol.
 */
export async function guestJoin (s3: { fetch: (url: string) => Promise<Response> }, url: string, bucket: string): Promise<{ joinMs: number, feedBytes: number, feedEntries: number, listP50: number, listP99: number }> {
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
      await list.send({ op: 'list', admission, bucket, limit: 1000 })
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
