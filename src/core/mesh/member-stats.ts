import type { Libp2p, Stream } from '@libp2p/interface'
import { openStream } from '../wire/open-stream.js'
import { SealedFrames } from '../wire/sealed-frames.js'
import type { Keyring } from '../wire/keyring.js'

export const STATS_PROTOCOL = '/s3mesh/stats/1.0.0'

/** What a member can be asked for: its metrics, or its open connections by peer and transport. */
export type StatsKind = 'metrics' | 'connections'
const KINDS = new Set<string>(['metrics', 'connections'])

/** Waiting longer than this for a member's figures fails the request, ms. */
const STATS_TIMEOUT_MS = 5000

/**
 * A member's own figures (a Node node's metrics, its connections), asked
 * for by another member: what lets the console chart any member, and draw
 * every member's connections, from the node it is served by. One sealed request, one sealed answer (the figures as JSON text), so
 * only members of the cluster can ask.
 */
export class MemberStats {
  constructor (
    private readonly libp2p: Libp2p,
    private readonly keyring: Keyring,
    /** This member's figures of a kind, JSON-serialisable. */
    private readonly provide: (what: StatsKind) => Promise<unknown>,
  ) {}

  async start (): Promise<void> {
    await this.libp2p.handle(STATS_PROTOCOL, stream => { void this.serve(stream) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(STATS_PROTOCOL)
  }

  /** Another member's figures of a kind. */
  async ask (peer: string, what: StatsKind, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(STATS_TIMEOUT_MS)
    const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    const frames = new SealedFrames(await openStream(this.libp2p, peer, STATS_PROTOCOL, s), this.keyring, { signal: s, idleTimeoutMs: STATS_TIMEOUT_MS })
    try {
      await frames.send({ type: 'stats?', what })
      const answer = await frames.receive()
      if (answer.type !== 'stats' || typeof answer.json !== 'string') throw new Error('The member answered something other than its figures.')
      return JSON.parse(answer.json)
    } finally {
      await frames.close()
    }
  }

  private async serve (stream: Stream): Promise<void> {
    const frames = new SealedFrames(stream, this.keyring, { idleTimeoutMs: STATS_TIMEOUT_MS })
    try {
      // A request that does not open with the cluster key is refused (receive throws).
      const request = await frames.receive()
      if (request.type !== 'stats?' || typeof request.what !== 'string' || !KINDS.has(request.what)) throw new Error('not a stats request')
      await frames.send({ type: 'stats', json: JSON.stringify(await this.provide(request.what as StatsKind)) })
      await frames.close()
    } catch (err) {
      frames.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
