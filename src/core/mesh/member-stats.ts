import type { Libp2p, Stream } from '@libp2p/interface'
import { answerSealed, askSealed } from '../wire/sealed-request.js'
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
    await this.libp2p.handle(STATS_PROTOCOL, (stream, connection) => { void this.serve(stream, connection.remotePeer.toString()) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(STATS_PROTOCOL)
  }

  /** Another member's figures of a kind. */
  async ask (peer: string, what: StatsKind, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(STATS_TIMEOUT_MS)
    const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    const answer = await askSealed(this.libp2p, this.keyring, peer, STATS_PROTOCOL, { type: 'stats?', what }, { signal: s, idleTimeoutMs: STATS_TIMEOUT_MS })
    if (answer.type !== 'stats' || typeof answer.json !== 'string') throw new Error('The member answered something other than its figures.')
    return JSON.parse(answer.json)
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    await answerSealed(stream, from, this.keyring, async request => {
      if (request.type !== 'stats?' || typeof request.what !== 'string' || !KINDS.has(request.what)) throw new Error('not a stats request')
      return { type: 'stats', json: JSON.stringify(await this.provide(request.what as StatsKind)) }
    }, { idleTimeoutMs: STATS_TIMEOUT_MS, firstFrameMaxBytes: 4096 })
  }
}
