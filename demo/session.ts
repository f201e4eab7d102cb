/**
 * Logging in: who the keys belong to is asked first (`/_s3mesh/v1/access/me`);
 * then the tab registers the service worker and joins the mesh as a guest
 * with those keys (root's or any user's): its node admits it with that user's
 * rights, never the cluster key. Every request is SigV4-signed here
 * (aws4fetch), so the secret never travels. Kept for the session, or on the
 * device when asked.
 */
import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../src/core/s3-signer.js'
import { register, type Registration } from '../src/browser/index.js'
import { Permissions, type WhoAmI } from './permissions.js'

export interface Credentials { accessKeyId: string, secretAccessKey: string }

const STORAGE_KEY = 's3mesh-credentials'

type SignedInit = NonNullable<Parameters<AwsClient['fetch']>[1]>

/** A logged-in tab: its signer, its registration (the tab as a guest of the mesh), who it is and what it may do. */
export class Session {
  readonly can: Permissions
  /**
   * In a tab that registered while another tab of this site ran the mesh
   * node: 'waits' until this tab has taken it over ('runs'), or the reason
   * it could not. Undefined in the tab that ran it from the start.
   */
  takeOver: 'waits' | 'runs' | { failed: string } | undefined

  constructor (readonly credentials: Credentials, readonly client: AwsClient, readonly tab: Registration, readonly who: WhoAmI) {
    this.can = new Permissions(who)
    this.takeOver = tab.nodeStarted === undefined ? undefined : 'waits'
    tab.nodeStarted?.then(() => { this.takeOver = 'runs' }, (err: unknown) => {
      if (!(err instanceof DOMException && err.name === 'AbortError')) this.takeOver = { failed: err instanceof Error ? err.message : String(err) }
    })
  }

  /** Whether this tab joined the mesh (it sees the catalog entries its user may list, the nodes, the other tabs, and copies). */
  get member (): boolean { return this.tab.node !== undefined }

  /**
   * A signed S3 request through this origin's /s3/ (the service worker
   * answers it). A read answered 500 or 503 is tried again twice, after a
   * quarter of a second and then three quarters, as S3's SDKs retry them:
   * a busy node's passing error is not the person's to see.
   */
  async s3 (path: string, init: RequestInit = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase()
    for (let attempt = 0; ; attempt++) {
      // Never from the browser's HTTP cache: a HEAD after a GET of the same URL would show that GET's headers (a lock changed since).
      const res = await this.fetch(`/s3${path}`, { cache: 'no-store', ...init })
      if (attempt === 2 || (method !== 'GET' && method !== 'HEAD') || (res.status !== 500 && res.status !== 503) || init.signal?.aborted === true) return res
      console.warn(`s3mesh console: ${method} ${path} answered ${res.status}: tried again`)
      await res.body?.cancel()
      await new Promise(resolve => setTimeout(resolve, 250 * 3 ** attempt))
    }
  }

  /** A signed request to the node's s3mesh API (/_s3mesh/v1/...). */
  async api (path: string, init: RequestInit = {}): Promise<Response> {
    return await this.fetch(`/_s3mesh/v1${path}`, init)
  }

  /** A presigned GET of an object, valid for `seconds` (S3 allows up to 7 days): what previews and share links use. */
  async presign (path: string, seconds: number, extra: Record<string, string> = {}): Promise<string> {
    const url = new URL(`${location.origin}/s3${path}`)
    url.searchParams.set('X-Amz-Expires', String(Math.min(seconds, 604800)))
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v)
    return (await this.client.sign(url.toString(), { method: 'GET', aws: { signQuery: true } })).url
  }

  /** A signed form POST to the node's IAM or STS API (the query protocol). */
  async accessApi (service: 'iam' | 'sts', body: URLSearchParams): Promise<Response> {
    return await this.fetch(`/_s3mesh/v1/${service}`, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, aws: { service } })
  }

  private async fetch (path: string, init: SignedInit): Promise<Response> {
    try {
      return await this.client.fetch(`${location.origin}${path}`, init)
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      // fetch only rejects when no answer came at all.
      throw new Error(`The network is down or the node is gone (${err instanceof Error ? err.message : String(err)}).`)
    }
  }

  /** Leaves the mesh and forgets the credentials on this device (the service worker's copy too). */
  async logOut (): Promise<void> {
    sessionStorage.removeItem(STORAGE_KEY)
    localStorage.removeItem(STORAGE_KEY)
    try {
      await this.tab.stop()
    } finally {
      // Even when the tab's node failed to stop: the worker must not keep this user's keys.
      await register({ forgetCredentials: true }).catch(() => {})
    }
  }
}

/** Asks the node who these keys belong to and what they may do; throws an Error in plain words. */
async function whoAmI (client: AwsClient): Promise<WhoAmI> {
  let res: Response
  try {
    res = await client.fetch(`${location.origin}/_s3mesh/v1/access/me`)
  } catch (err) {
    throw new Error(`The node cannot be reached (${err instanceof Error ? err.message : String(err)}).`)
  }
  if (res.ok) return await res.json() as WhoAmI
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  const code = doc.querySelector('Code')?.textContent ?? `HTTP ${res.status}`
  const message = doc.querySelector('Message')?.textContent ?? ''
  if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch') {
    throw new Error(/not active/.test(message) ? 'This access key is not active (it, or its user, was disabled): ask whoever manages access.' : 'Wrong access key or secret key.')
  }
  throw new Error(`The node refused the login: ${code}${message === '' ? '' : `: ${message}`}`)
}

/**
 * Logs in: the tab registers the service worker and joins the mesh as a
 * guest, with these credentials' rights. Throws an Error in plain words.
 */
export async function logIn (credentials: Credentials, remember: boolean): Promise<Session> {
  const client = s3Signer(credentials)
  const who = await whoAmI(client)
  let tab: Registration
  try {
    tab = await register(credentials)
  } catch (err) {
    throw new Error(`Could not start: ${err instanceof Error ? err.message : String(err)}`)
  }
  ;(remember ? localStorage : sessionStorage).setItem(STORAGE_KEY, JSON.stringify(credentials))
  return new Session(credentials, client, tab, who)
}

/** Credentials kept from an earlier login in this tab (or on this device), if any. */
export function savedLogin (): { credentials: Credentials, remember: boolean } | undefined {
  const saved = sessionStorage.getItem(STORAGE_KEY) ?? localStorage.getItem(STORAGE_KEY)
  if (saved === null) return undefined
  try {
    return { credentials: JSON.parse(saved) as Credentials, remember: localStorage.getItem(STORAGE_KEY) !== null }
  } catch {
    return undefined
  }
}
