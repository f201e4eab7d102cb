import { EXISTING_TAG_KEYS, existingTags, type AccessControl, type Principal } from '../access/access-control.js'
import { AdmissionVerifier, GuestRefusedError, guestPrincipal, type Admission, type GuestRefusal } from '../access/admission.js'
import type { ContextValues } from '../access/policy-match.js'
import type { CatalogEntry } from './catalog-entry.js'

/** A guest whose admission checked out, for one request. */
export interface Guest {
  id: string
  admission: Admission
  access: AccessControl
  principal: Principal
}

export const GUEST_REFUSALS: GuestRefusal[] = ['malformed', 'bad-signature', 'unknown-issuer', 'wrong-peer', 'other-cluster', 'expired', 'revoked', 'denied', 'not-a-holding']

export interface GuestGateOptions {
  cluster: string
  /** Whether a peer id is a durable member's: only they admit guests. */
  isIssuer: (peer: string) => boolean
  /** A durable member's own access control (live: revocation acts at once); a tab has none and decides from the admission's records. */
  live?: AccessControl
  /** Told of each guest whose admission checked out (its peer id and the admission's expiry): a node's relay serves only those. */
  onAdmitted?: (peer: string, expires: number) => void
}

/**
 * Decides what a guest (a tab, with no cluster key) may do, on whichever peer
 * it asks: a durable member or another tab. Every request carries the
 * guest's admission; the gate checks it (AdmissionVerifier) and then the
 * request's action with the S3 API's own policy evaluation. Each refusal is
 * counted by its reason.
 */
export class GuestGate {
  readonly refused = Object.fromEntries(GUEST_REFUSALS.map(r => [r, 0])) as Record<GuestRefusal, number>
  readonly verifier: AdmissionVerifier

  constructor (private readonly o: GuestGateOptions) {
    this.verifier = new AdmissionVerifier({ cluster: o.cluster, isIssuer: o.isIssuer })
  }

  /** The guest `from` is, by the admission it sent. Throws GuestRefusedError (counted). */
  async who (from: string, admission: unknown): Promise<Guest> {
    try {
      const a = await this.verifier.verify(admission, from)
      const guest = { id: from, admission: a, ...guestPrincipal(a, this.o.live) }
      this.o.onAdmitted?.(from, a.expires)
      return guest
    } catch (err) {
      throw this.counted(err)
    }
  }

  /** Whether the guest may do `action` on a bucket or an object. */
  allows (g: Guest, action: string, bucket: string, key?: string, context: ContextValues = {}): boolean {
    const now = Date.now()
    return g.access.decide(g.principal, {
      action,
      resource: key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`,
      // What an S3 request over TLS would bring; a guest's connection is Noise-encrypted.
      // The address the tab joined from stands for its own: none is seen on the mesh (a relay or WebRTC in between).
      context: {
        'aws:SecureTransport': 'true', 'aws:CurrentTime': new Date(now).toISOString(), 'aws:EpochTime': String(Math.floor(now / 1000)),
        ...(g.admission.sourceIp === undefined ? {} : { 'aws:SourceIp': g.admission.sourceIp }), ...context,
      },
    }) === 'allow'
  }

  /** Throws GuestRefusedError('denied') (counted) unless the guest may do it. */
  check (g: Guest, action: string, bucket: string, key?: string, context: ContextValues = {}): void {
    if (!this.allows(g, action, bucket, key, context)) throw this.counted(new GuestRefusedError('denied', `${g.id} may not ${action} on ${bucket}${key === undefined ? '' : `/${key}`}.`))
  }

  /** Whether the guest may read an object (its entry, when there is one): s3:GetObject, with its tags as s3:ExistingObjectTag. */
  mayRead (g: Guest, bucket: string, key: string, e?: CatalogEntry): boolean {
    return this.allows(g, 's3:GetObject', bucket, key, existingTags(e?.object?.tags))
  }

  /**
   * Throws unless the guest may get an object's bytes: s3:GetObject, with the
   * tags of its entry (`entry`, asked only when a policy in force for the
   * guest names one; a failure to tell refuses; `unknown`: where they cannot
   * be known for sure, a tab's, refused then).
   */
  async checkGet (g: Guest, bucket: string, key: string, entry: (() => Promise<CatalogEntry | undefined> | CatalogEntry | undefined) | 'unknown'): Promise<void> {
    if (!g.access.conditionsOn(g.principal, bucket, EXISTING_TAG_KEYS, 's3:GetObject')) { this.check(g, 's3:GetObject', bucket, key); return }
    // A tab's catalog may not know an object's tags (its node hides them from a user who may not read it): it serves
    // nothing a tag decides, and the asker fetches from a member.
    if (entry === 'unknown') throw this.counted(new GuestRefusedError('denied', `${g.id}'s right to ${bucket}/${key} depends on its tags, which only a member knows for sure.`))
    this.check(g, 's3:GetObject', bucket, key, existingTags((await entry())?.object?.tags))
  }

  /** Whether the guest may learn of an entry: a bucket it sees, a key it may list (s3:prefix the key itself). */
  mayList (g: Guest, bucket: string, key?: string): boolean {
    if (key === undefined) return g.access.seesBucket(g.principal, bucket, {})
    return this.allows(g, 's3:ListBucket', bucket, undefined, { 's3:prefix': key })
  }

  count (reason: GuestRefusal, n = 1): void {
    this.refused[reason] += n
  }

  private counted (err: unknown): Error {
    if (err instanceof GuestRefusedError) this.refused[err.reason]++
    return err instanceof Error ? err : new Error(String(err))
  }
}
