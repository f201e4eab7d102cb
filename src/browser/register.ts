import type { WorkerConfig } from './worker-config.js'

export interface RegisterOptions {
  /** The service worker script, served from the site's root so it may control every page (default `/s3mesh-sw.js`). */
  serviceWorkerUrl?: string
  /** Root credentials: signed requests to `/s3/...` are checked against them. */
  accessKeyId?: string
  secretAccessKey?: string
  /** Gives up waiting for the worker after this long, ms. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface Registration {
  /** The service worker registration. */
  registration: ServiceWorkerRegistration
}

/** The service worker did not take control of the page in time, or cannot run here. */
export class ServiceWorkerUnavailableError extends Error {
  override name = 'ServiceWorkerUnavailableError'
}

/**
 * Registers the s3mesh service worker for this origin and resolves once it
 * controls the page, so that `fetch('/s3/bucket/key')` from here on is S3.
 */
export async function register (options: RegisterOptions = {}): Promise<Registration> {
  if (!('serviceWorker' in navigator)) throw new ServiceWorkerUnavailableError('This browser has no service workers here (they need https:// or localhost, and no private mode in some browsers).')
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)])
  const registration = await navigator.serviceWorker.register(options.serviceWorkerUrl ?? '/s3mesh-sw.js', { scope: '/' })
  await until(signal, async () => {
    if (navigator.serviceWorker.controller !== null) return
    await new Promise<void>(resolve => { navigator.serviceWorker.addEventListener('controllerchange', () => { resolve() }, { once: true }) })
  })
  if (options.accessKeyId !== undefined && options.secretAccessKey !== undefined) {
    await configure({ credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }, signal)
  }
  return { registration }
}

/** Sends the worker its configuration and waits until it has stored it. */
async function configure (config: WorkerConfig, signal: AbortSignal): Promise<void> {
  const worker = navigator.serviceWorker.controller
  if (worker === null) throw new ServiceWorkerUnavailableError('No service worker controls this page.')
  const channel = new MessageChannel()
  await until(signal, async () => {
    const answer = new Promise<{ ok: boolean, error?: string }>(resolve => { channel.port1.onmessage = e => { resolve(e.data as { ok: boolean, error?: string }) } })
    worker.postMessage({ type: 's3mesh:config', config }, [channel.port2])
    const { ok, error } = await answer
    if (!ok) throw new ServiceWorkerUnavailableError(`The service worker could not store its configuration: ${error ?? 'unknown error'}`)
  })
}

async function until (signal: AbortSignal, step: () => Promise<void>): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(new ServiceWorkerUnavailableError(`The s3mesh service worker did not answer: ${String(signal.reason)}`)) }
    signal.addEventListener('abort', onAbort, { once: true })
    step().then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
