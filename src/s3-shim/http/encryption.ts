import { S3Error } from '../../core/errors.js'
import type { Operation } from '../router.js'

/** Server-side encryption with S3's or a key service's keys (SSE-S3, SSE-KMS). */
const SSE = ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context', 'x-amz-server-side-encryption-bucket-key-enabled']

/** Server-side encryption with the caller's own key (SSE-C). */
const SSE_C = ['x-amz-server-side-encryption-customer-algorithm', 'x-amz-server-side-encryption-customer-key', 'x-amz-server-side-encryption-customer-key-md5']

/** Operations that store new bytes: S3 would encrypt them as their headers ask. */
const WRITES = new Set<Operation>(['PutObject', 'PostObject', 'CopyObject', 'CreateMultipartUpload'])

/** Parts, whose bytes an SSE-C upload encrypts with the key each one carries. */
const PARTS = new Set<Operation>(['UploadPart', 'UploadPartCopy'])

/** Reads, which S3 refuses x-amz-server-side-encryption on (the object says how it is encrypted). */
const READS = new Set<Operation>(['GetObject', 'HeadObject', 'GetObjectAttributes'])

const first = (headers: Headers, names: string[]): string | undefined => names.find(h => headers.has(h))

/**
 * Refuses a request that asks for new bytes to be stored encrypted, rather
 * than storing in plain text what was to be encrypted (and serving an SSE-C
 * object to anyone, key or not). s3mesh keeps objects as they are sent (it
 * has no key service); what must not be readable on its disks is encrypted
 * before it is sent, or the disk under the data folder is.
 *
 * - a write with SSE-S3, SSE-KMS or SSE-C headers, or a part with a customer
 *   key: NotImplemented, as MinIO answers without a key service;
 * - a read with x-amz-server-side-encryption: InvalidArgument, as S3.
 *
 * A customer key on a read, or on a copy's source, is let be: releases before
 * this one took SSE-C writes and kept them in plain text, and the clients
 * that wrote them send the key with every read (S3 would refuse a key for an
 * object stored without one). They read their objects back, and can copy
 * them out, as before.
 */
export function refuseEncryption (operation: Operation, headers: Headers): void {
  const asked = WRITES.has(operation) ? first(headers, [...SSE, ...SSE_C]) : PARTS.has(operation) ? first(headers, SSE_C) : undefined
  if (asked !== undefined) {
    throw new S3Error('NotImplemented', `s3mesh does not encrypt the objects it stores (it has no key service), so it does not take ${asked}: nothing was stored. Encrypt the object before sending it, or the disk under the node's data folder.`, { detail: { Header: asked } })
  }
  if (READS.has(operation)) {
    const sse = first(headers, SSE)
    if (sse !== undefined) throw new S3Error('InvalidArgument', `${sse} header is not supported for this operation: an object's encryption is set when it is written.`, { detail: { ArgumentName: sse, ArgumentValue: headers.get(sse) ?? '' } })
  }
}
