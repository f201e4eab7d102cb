import { S3Error } from '../../core/errors.js'
import type { Operation } from '../router.js'

/** Server-side encryption with S3's or a key service's keys (SSE-S3, SSE-KMS). */
const SSE = ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context', 'x-amz-server-side-encryption-bucket-key-enabled']

/** Server-side encryption with the caller's own key (SSE-C): of the object written or read, and of a copy's source. */
const SSE_C = ['x-amz-server-side-encryption-customer-algorithm', 'x-amz-server-side-encryption-customer-key', 'x-amz-server-side-encryption-customer-key-md5']
const SOURCE_SSE_C = SSE_C.map(h => h.replace('x-amz-', 'x-amz-copy-source-'))

/** Operations that store new bytes: S3 would encrypt them as their headers ask. */
const WRITES = new Set<Operation>(['PutObject', 'PostObject', 'CopyObject', 'CreateMultipartUpload'])

/** Operations on an object (or an upload) made before, whose encryption was set then: a customer key is how SSE-C reads it (or adds a part). */
const KEYED = new Set<Operation>(['GetObject', 'HeadObject', 'GetObjectAttributes', 'UploadPart', 'UploadPartCopy'])

/** Reads, which S3 refuses x-amz-server-side-encryption on (the object says how it is encrypted). */
const READS = new Set<Operation>(['GetObject', 'HeadObject', 'GetObjectAttributes'])

const first = (headers: Headers, names: string[]): string | undefined => names.find(h => headers.has(h))

/**
 * Refuses a request that asks for server-side encryption, rather than
 * storing in plain text what was to be encrypted (and serving an SSE-C
 * object to anyone, key or not). s3mesh keeps objects as they are sent (it
 * has no key service); what must not be readable on its disks is encrypted
 * before it is sent, or the disk under the data folder is.
 *
 * - a write with SSE-S3, SSE-KMS or SSE-C headers: NotImplemented, as MinIO
 *   answers without a key service;
 * - a read (or a part) with a customer key: no object here was stored with
 *   one, which S3 answers InvalidRequest;
 * - a read with x-amz-server-side-encryption: InvalidArgument, as S3.
 */
export function refuseEncryption (operation: Operation, headers: Headers): void {
  if (WRITES.has(operation)) {
    const asked = first(headers, [...SSE, ...SSE_C])
    if (asked !== undefined) {
      throw new S3Error('NotImplemented', `s3mesh does not encrypt the objects it stores (it has no key service), so it does not take ${asked}: nothing was stored. Encrypt the object before sending it, or the disk under the node's data folder.`, { detail: { Header: asked } })
    }
  }
  if (KEYED.has(operation)) {
    const keyed = first(headers, SSE_C)
    if (keyed !== undefined) throw new S3Error('InvalidRequest', `The encryption parameters are not applicable to this object: it was not stored with a customer-provided key (s3mesh stores none so); send the request without ${keyed}.`)
  }
  if (READS.has(operation)) {
    const asked = first(headers, SSE)
    if (asked !== undefined) throw new S3Error('InvalidArgument', `${asked} header is not supported for this operation: an object's encryption is set when it is written.`, { detail: { ArgumentName: asked, ArgumentValue: headers.get(asked) ?? '' } })
  }
  if (operation === 'CopyObject' || operation === 'UploadPartCopy') {
    const source = first(headers, SOURCE_SSE_C)
    if (source !== undefined) throw new S3Error('InvalidRequest', `The encryption parameters are not applicable to this object: the copy's source was not stored with a customer-provided key (s3mesh stores none so); send the copy without ${source}.`)
  }
}
