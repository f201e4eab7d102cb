/**
 * Logging in: the service worker is registered and this tab joins the mesh
 * with the credentials given; every request is SigV4-signed here (aws4fetch),
 * so the secret never travels. Kept for the session, or on the device when
 * asked.
 */
import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../src/core/s3-signer.js'
import { JoinError, register, type Registration } from '../src/browser/index.js'

export interface Credentials { accessKeyId: string, secretAccessKey: string }

const STORAGE_KEY = 's3mesh-credentials'

/** A logged-in tab: its signer, its mesh membership, and who it is. */
export class Session {
  constructor (readonly credentials: Credentials, readonly client: AwsClient, readonly tab: Registration) {}

  /** A signed S3 request through this origin's /s3/ (the service worker answers it). */
  async s3 (path: string, init: RequestInit = {}): Promise<Response> {
    return await this.fetch(`/s3${path}`, init)
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

  private async fetch (path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.client.fetch(`${location.origin}${path}`, init)
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      // fetch only rejects when no answer came at all.
      throw new Error(`The network is down or the node is gone (${err instanceof Error ? err.message : String(err)}).`)
    }
  }

  /** Leaves the mesh and forgets the credentials on this device. */
  async logOut (): Promise<void> {
    sessionStorage.removeItem(STORAGE_KEY)
    localStorage.removeItem(STORAGE_KEY)
    await this.tab.stop()
  }
}

/** Registers the service worker and joins the mesh; throws an Error in plain words. */
export async function logIn (credentials: Credentials, remember: boolean): Promise<Session> {
  let tab: Registration
  try {
    tab = await register(credentials)
  } catch (err) {
    throw new Error(err instanceof JoinError && /\(403\)/.test(err.message) ? 'Wrong access key or secret key.' : `Could not start: ${err instanceof Error ? err.message : String(err)}`)
  }
  ;(remember ? localStorage : sessionStorage).setItem(STORAGE_KEY, JSON.stringify(credentials))
  return new Session(credentials, s3Signer(credentials), tab)
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
