import { CHECKSUM_BYTES, checksumHeader, type PartSizes } from '../core/checksums.js'
import { fromHex, toBase64 } from '../core/hashes.js'
import type { ObjectMetadata, PutOptions, VerifiedDigests, VersionOptions, WriteCondition } from '../core/object-store.js'
import { checksumHeaders, planHeaders } from '../s3-shim/http/checksum-headers.js'
import { metadataHeaders } from '../s3-shim/http/metadata.js'
import { quoteEtag } from '../s3-shim/respond.js'
import { awsChunked, awsChunkedLength } from './aws-chunked-encoder.js'

// What a GatewayStore's requests to a mesh node carry, and what it reads from the answers' headers.

/** Asks a node's GET and HEAD for the object's checksum, which the info carries. */
export const CHECKSUM_MODE = { 'x-amz-checksum-mode': 'ENABLED' }

/** A node's x-amz-expiration (`expiry-date="...", rule-id="..."`), passed on. */
export function expirationOf (header: string | null): { expiration?: { date: Date, ruleId: string } } {
  const m = header === null ? null : /expiry-date="([^"]+)",\s*rule-id="((?:[^"\\]|\\.)*)"/.exec(header)
  if (m === null) return {}
  const date = new Date(m[1]!)
  return Number.isNaN(date.getTime()) ? {} : { expiration: { date, ruleId: ruleIdOf(m[2]!) } }
}

/** A rule's ID as a node gives it: URL-encoded (releases before it escaped quotes and backslashes with a backslash). */
function ruleIdOf (sent: string): string {
  const unescaped = sent.replace(/\\(.)/g, '$1')
  try { return decodeURIComponent(unescaped) } catch { return unescaped }
}

export function withPartSizes (metadata: ObjectMetadata, partSizes: PartSizes | undefined): ObjectMetadata {
  return partSizes === undefined ? metadata : { ...metadata, partSizes }
}

/**
 * A body as it goes to the node with the client's checksum, for the node to
 * check and keep: in a header when it is known (a body in hand has been read,
 * or it came as a header), else, for a body streamed on whose checksum came
 * as a trailer, aws-chunked with it as a trailer at the end.
 */
export function withChecksumOf (sent: { body: Uint8Array<ArrayBuffer> | Blob | ReadableStream<Uint8Array>, size: number }, options: Pick<PutOptions, 'checksum' | 'checksumAlgorithm'>): {
  body: Uint8Array<ArrayBuffer> | Blob | ReadableStream<Uint8Array>, size: number, decodedSize: number, headers: Record<string, string>, sha256?: string
} {
  const known = options.checksum?.()
  const algorithm = options.checksumAlgorithm
  if (known !== undefined || algorithm === undefined || !(sent.body instanceof ReadableStream)) return { ...sent, decodedSize: sent.size, headers: checksumHeaders(known) }
  const trailer = { name: checksumHeader(algorithm), valueLength: 4 * Math.ceil(CHECKSUM_BYTES[algorithm] / 3), value: () => options.checksum?.()?.value }
  return {
    body: awsChunked(sent.body, trailer),
    size: awsChunkedLength(sent.size, trailer),
    decodedSize: sent.size,
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(sent.size), 'x-amz-trailer': trailer.name },
    sha256: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  }
}

/** A write's or a delete's condition as the node reads it: the node checks it where the change commits (`*` as it is, an ETag quoted). */
export function conditionHeaders (condition: WriteCondition | undefined): Record<string, string> {
  return {
    ...(condition?.ifNoneMatch === undefined ? {} : { 'if-none-match': condition.ifNoneMatch }),
    ...(condition?.ifMatch === undefined ? {} : { 'if-match': condition.ifMatch === '*' ? '*' : quoteEtag(condition.ifMatch) }),
  }
}

/** The query that names one version (`?versionId=`), or none for the key's current one. */
export function versionQuery (options: VersionOptions | undefined): Record<string, string> {
  return options?.versionId === undefined ? {} : { versionId: options.versionId }
}

/** The version id a node's answer names (x-amz-version-id): none in a bucket never versioned. */
export function versionHeader (h: Headers): { versionId?: string } {
  const id = h.get('x-amz-version-id')
  return id === null ? {} : { versionId: id }
}

/** What a PUT or multipart create tells the node about the object: its metadata headers, its tags, an upload's checksum algorithm. */
export function writeHeaders (metadata: ObjectMetadata, tags?: Record<string, string>): Record<string, string> {
  const h = { ...metadataHeaders(metadata), ...planHeaders(metadata.checksumPlan) }
  if (tags !== undefined && Object.keys(tags).length > 0) h['x-amz-tagging'] = new URLSearchParams(tags).toString()
  return h
}

/** The client's verified digests, passed on: the node checks the bytes against them too. */
export function digestHeaders (verified: VerifiedDigests | undefined): Record<string, string> {
  if (verified?.md5 === undefined) return {}
  return { 'content-md5': toBase64(fromHex(verified.md5)!) }
}
