/**
 * Object lock as a gateway passes it on to a mesh node (GatewayStore): the
 * bucket's configuration, a version's retention and legal hold, the write
 * headers and the bypass. The node keeps and enforces the locks; the
 * gateway only carries them (docs/plans/object-lock.md, increment 5).
 */
import { isS3Error } from '../core/errors.js'
import { BYPASS_GOVERNANCE_HEADER, type BucketObjectLock, type LockChange, type VersionLock } from '../core/object-lock.js'
import type { LockOptions } from '../core/object-store.js'
import { legalHoldXml, lockConfigurationFrom, lockConfigurationXml, lockFromHeaders, lockHeaders, retentionXml } from '../s3-shim/object-lock-xml.js'
import { parseXmlBody, renderXml } from '../s3-shim/xml.js'
import type { RemoteS3 } from './remote-s3.js'

const XML = { 'content-type': 'application/xml' }

/** The bucket's object lock; none when it has none, or to credentials that may not ask. */
export async function objectLockOf (remote: RemoteS3, name: string, signal?: AbortSignal): Promise<BucketObjectLock | undefined> {
  try {
    const { response } = await remote.send({ method: 'GET', bucket: name, query: { 'object-lock': '' }, signal })
    return lockConfigurationFrom(parseXmlBody(new Uint8Array(await response.arrayBuffer()), 'ObjectLockConfiguration'))
  } catch (err) {
    if (isS3Error(err, 'ObjectLockConfigurationNotFoundError') || isS3Error(err, 'AccessDenied')) return undefined
    throw err
  }
}

export async function putObjectLock (remote: RemoteS3, name: string, lock: BucketObjectLock, signal?: AbortSignal): Promise<void> {
  await remote.send({ method: 'PUT', bucket: name, query: { 'object-lock': '' }, body: renderXml('ObjectLockConfiguration', lockConfigurationXml(lock)), headers: XML, signal })
}

/** A version's retention (an empty Retention lifts it) or legal hold, past GOVERNANCE when the caller asked and may. */
export async function putVersionLock (remote: RemoteS3, bucket: string, key: string, change: LockChange, options: LockOptions): Promise<void> {
  const retention = 'retention' in change
  const body = retention
    ? renderXml('Retention', change.retention === undefined ? {} : retentionXml(change.retention))
    : renderXml('LegalHold', legalHoldXml(change.legalHold))
  await remote.send({
    method: 'PUT', bucket, key, body, signal: options.signal,
    query: { [retention ? 'retention' : 'legal-hold']: '', ...(options.versionId === undefined ? {} : { versionId: options.versionId }) },
    headers: { ...XML, ...bypassHeader(options.bypassGovernance) },
  })
}

/** The x-amz-object-lock-* headers a write asks its new version's lock with. */
export function lockRequestHeaders (lock: VersionLock | undefined): Record<string, string> {
  return lockHeaders(lock, { retention: true, legalHold: true })
}

export function bypassHeader (bypass: boolean | undefined): Record<string, string> {
  return bypass === true ? { [BYPASS_GOVERNANCE_HEADER]: 'true' } : {}
}

/** A version's lock as a node's GET or HEAD shows it (a retention that has ended is still shown, as S3 shows it). */
export function lockOfAnswer (h: Headers): { lock?: VersionLock } {
  const lock = lockFromHeaders(h, new Date(0))
  return lock === undefined ? {} : { lock }
}
