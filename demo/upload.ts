/**
 * The console's uploads: signed in the page, sent by XHR for progress events,
 * large files as S3 multipart uploads.
 */
import type { AwsClient } from 'aws4fetch'
import { objectPath } from '../src/core/names.js'
import { explain } from './s3-errors.js'

/** Files above this go up in parts (S3 multipart), so a large file neither waits whole nor restarts whole. */
const MULTIPART_ABOVE = 16 * 1024 * 1024
const PART_BYTES = 8 * 1024 * 1024

/** One signed request with upload progress (XHR: fetch reports none); resolves with the response or throws a plain-words error. */
async function send (client: AwsClient, method: string, url: string, body: Blob | string | undefined, headers: Record<string, string>, signal: AbortSignal, onProgress?: (loaded: number) => void): Promise<XMLHttpRequest> {
  signal.throwIfAborted()
  const signed = await client.sign(url, { method, headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
  // Cancelled while signing: nothing is sent.
  signal.throwIfAborted()
  return await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open(method, url)
    signed.headers.forEach((v, k) => { if (k !== 'host' && k !== 'content-length') xhr.setRequestHeader(k, v) })
    if (onProgress !== undefined) xhr.upload.onprogress = e => { onProgress(e.loaded) }
    xhr.onload = () => {
      if (xhr.status === 200) resolve(xhr)
      else void explain(new Response(xhr.responseText, { status: xhr.status })).then(text => { reject(new Error(text)) })
    }
    xhr.onerror = () => { reject(new Error('the network is down or the node is gone')) }
    const abort = (): void => { xhr.abort() }
    xhr.onabort = () => { reject(signal.reason instanceof Error ? signal.reason : new DOMException('Cancelled', 'AbortError')) }
    xhr.onloadend = () => { signal.removeEventListener('abort', abort) }
    signal.addEventListener('abort', abort, { once: true })
    xhr.send(body ?? null)
  })
}

/** Uploads one file to bucket/key through this origin's /s3/, reporting the bytes sent so far; `signal` cancels it (a multipart upload is aborted). */
export async function uploadFile (client: AwsClient, bucket: string, key: string, file: File, progress: (loaded: number) => void, signal: AbortSignal): Promise<void> {
  const url = `${location.origin}/s3${objectPath(bucket, key)}`
  const type = { 'content-type': file.type || 'application/octet-stream' }
  if (file.size <= MULTIPART_ABOVE) {
    await send(client, 'PUT', url, file, type, signal, progress)
    return
  }
  const created = await send(client, 'POST', `${url}?uploads`, undefined, type, signal)
  const uploadId = new DOMParser().parseFromString(created.responseText, 'application/xml').querySelector('UploadId')?.textContent ?? ''
  const parts: string[] = []
  try {
    for (let at = 0, n = 1; at < file.size; at += PART_BYTES, n++) {
      const done = at
      const part = await send(client, 'PUT', `${url}?partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`, file.slice(at, at + PART_BYTES), {}, signal, loaded => { progress(done + loaded) })
      parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${part.getResponseHeader('etag') ?? ''}</ETag></Part>`)
    }
    await send(client, 'POST', `${url}?uploadId=${encodeURIComponent(uploadId)}`, `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`, { 'content-type': 'application/xml' }, signal)
  } catch (err) {
    // Nothing half-done stays behind.
    await client.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'DELETE' }).catch(() => {})
    throw err
  }
}
