import { S3Error, type S3ErrorCode } from '../../core/errors.js'
import type { Context, OperationHandler } from '../context.js'
import type { UnsetSettingRead } from '../router.js'
import { xmlResponse, type XmlElement } from '../xml.js'

/**
 * What S3 answers for a bucket a setting was never set on: the error it
 * gives then, or the document it gives (an empty logging status, the owner
 * paying).
 */
type Unset = { missing: S3ErrorCode } | { root: string, body: XmlElement }

/**
 * Bucket settings s3mesh has no way to set, read as S3 answers for a bucket
 * they were never set on. Tools that read a bucket's whole configuration
 * (Terraform's aws_s3_bucket, `mc`, S3A's bucket-info) ask for these; setting
 * one stays NotImplemented (the router).
 */
const UNSET: Record<UnsetSettingRead, Unset> = {
  // s3mesh does not encrypt what it stores (a disk's own encryption is the operator's): no default encryption to report.
  GetBucketEncryption: { missing: 'ServerSideEncryptionConfigurationNotFoundError' },
  GetBucketTagging: { missing: 'NoSuchTagSet' },
  GetBucketWebsite: { missing: 'NoSuchWebsiteConfiguration' },
  GetBucketReplication: { missing: 'ReplicationConfigurationNotFoundError' },
  // Canned ACLs (public-read) are honoured: nothing blocks them.
  GetPublicAccessBlock: { missing: 'NoSuchPublicAccessBlockConfiguration' },
  GetBucketOwnershipControls: { missing: 'OwnershipControlsNotFoundError' },
  GetBucketRequestPayment: { root: 'RequestPaymentConfiguration', body: { Payer: 'BucketOwner' } },
  GetBucketLogging: { root: 'BucketLoggingStatus', body: {} },
  GetBucketAccelerateConfiguration: { root: 'AccelerateConfiguration', body: {} },
  GetBucketNotificationConfiguration: { root: 'NotificationConfiguration', body: {} },
}

/** The answers, once the bucket is known to exist (NoSuchBucket first, as S3 checks). */
export const unsetSettings = Object.fromEntries(Object.entries(UNSET).map(([operation, unset]) => [operation, async (ctx: Context): Promise<Response> => {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  if ('missing' in unset) throw new S3Error(unset.missing, undefined, { resource: ctx.bucket, detail: { BucketName: ctx.bucket } })
  return xmlResponse(unset.root, unset.body)
}])) as Record<UnsetSettingRead, OperationHandler>
