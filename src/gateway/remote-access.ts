/**
 * The mesh's users and policies at a runtime that is not a member (an edge
 * worker): the access state copied from a node (`GET /_s3mesh/v1/access/state`,
 * root credentials, so the worker holds what a node holds) and refreshed when
 * older than `ttlMs`, and STS session tokens opened by asking a node
 * (`GET /_s3mesh/v1/access/session`), since only members hold the cluster key.
 * Both answers come sealed with a key derived from the root secret.
 * Decisions are then made by the same AccessControl as on a node. A revoked
 * key stops working here within `ttlMs` (plus one refresh).
 */
import type { AwsClient } from 'aws4fetch'
import { AccessControl, type RootCredential } from '../core/access/access-control.js'
import { asEntry } from '../core/access/access-records.js'
import { AccessState } from '../core/access/access-state.js'
import type { SessionClaims, TokenService } from '../core/access/session-token.js'
import { S3Error } from '../core/errors.js'
import { randomId } from '../core/ids.js'
import { s3Signer } from '../core/s3-signer.js'
import type { Keyring } from '../core/wire/keyring.js'
import { rootSealer } from '../core/access/root-sealer.js'

export interface RemoteAccessOptions {
  /** The nodes' S3 endpoints, tried in order. */
  nodes: string[]
  /** The mesh's root credentials: the access state holds secrets, so only root may read it. */
  mesh: { accessKeyId: string, secretAccessKey: string }
  /** Who is root here (the worker's own client credentials). */
  root: RootCredential
  /** How old the copy may be before a request waits for a fresh one, ms (default 5 s). */
  ttlMs?: number
  /**
   * How old the copy may grow while no node answers before requests are
   * refused (503) rather than decided by it, ms (default 60 s): a key revoked
   * meanwhile must not keep working for as long as the mesh is out of reach.
   */
  maxStaleMs?: number
  now?: () => number
}

export class RemoteAccess {
  readonly state = new AccessState(`edge-${randomId(4)}`, undefined, true)
  readonly control: AccessControl
  private readonly signer: AwsClient
  private readonly ttlMs: number
  private readonly now: () => number
  private fetchedAt = -Infinity
  private refreshing: Promise<void> | undefined
  private readonly sealers = new Map<string, Promise<Keyring>>()

  constructor (private readonly o: RemoteAccessOptions) {
    this.signer = s3Signer(o.mesh)
    this.ttlMs = o.ttlMs ?? 5000
    this.now = o.now ?? Date.now
    this.control = new AccessControl({ state: this.state, root: o.root, tokens: new RemoteTokens(this), now: this.now })
  }

  /** Makes the copy no older than the TTL; if no node answers, an older copy is used rather than none. */
  async fresh (): Promise<void> {
    if (this.now() - this.fetchedAt <= this.ttlMs) return
    this.refreshing ??= this.refresh().finally(() => { this.refreshing = undefined })
    try {
      await this.refreshing
    } catch (err) {
      if (this.now() - this.fetchedAt > (this.o.maxStaleMs ?? 60_000)) throw err
    }
  }

  private async refresh (): Promise<void> {
    const doc = await this.askSealed('/_s3mesh/v1/access/state', 'access-state') as { entries?: unknown[] }
    const entries = (doc.entries ?? []).map(asEntry).filter(e => e !== undefined)
    await this.state.merge(entries)
    this.fetchedAt = this.now()
  }

  /** A GET of a sealed answer (see root-sealer.ts) bound to a fresh nonce, opened, checked and parsed. */
  async askSealed (path: string, purpose: 'access-state' | 'access-session', headers: Record<string, string> = {}): Promise<unknown> {
    const nonce = randomId(16)
    const res = await this.ask(path, { ...headers, 'x-s3mesh-nonce': nonce })
    let sealer = this.sealers.get(purpose)
    if (sealer === undefined) this.sealers.set(purpose, sealer = rootSealer(this.o.mesh.secretAccessKey, purpose))
    const plain = await (await sealer).open(new Uint8Array(await res.arrayBuffer()))
    const doc = JSON.parse(new TextDecoder().decode(plain)) as { nonce?: string, at?: number, value?: unknown }
    if (doc.nonce !== nonce || typeof doc.at !== 'number' || Math.abs(this.now() - doc.at) > 5 * 60_000) {
      throw new S3Error('ServiceUnavailable', 'A node\'s sealed answer was not for this request (a replay, or a clock more than 5 minutes off).')
    }
    return doc.value
  }

  /** A GET of the mesh API at the first node that answers 200; the node's S3 error otherwise. */
  async ask (path: string, headers: Record<string, string> = {}): Promise<Response> {
    let last: unknown
    for (const node of this.o.nodes) {
      try {
        const res = await this.signer.fetch(`${node.replace(/\/+$/, '')}${path}`, { headers })
        if (res.status === 200) return res
        const text = await res.text()
        const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1]
        last = new S3Error(code === 'InvalidToken' || code === 'ExpiredToken' ? code : 'ServiceUnavailable', /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? `${node} answered ${res.status}`)
        if (res.status < 500) break
      } catch (err) {
        last = err
      }
    }
    throw last instanceof S3Error ? last : new S3Error('ServiceUnavailable', `No mesh node gave the access state: ${String(last)}`)
  }
}

/** Session tokens opened by a node: the worker holds no cluster key. */
class RemoteTokens implements TokenService {
  constructor (private readonly remote: RemoteAccess) {}

  async issue (): Promise<string> {
    throw new S3Error('NotImplemented', 'Temporary credentials are issued by the mesh\'s nodes, not at the edge.')
  }

  async open (token: string): Promise<SessionClaims> {
    return await this.remote.askSealed('/_s3mesh/v1/access/session', 'access-session', { 'x-s3mesh-session-token': token }) as SessionClaims
  }
}
