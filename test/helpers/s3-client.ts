import { S3Client } from '@aws-sdk/client-s3'
import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY } from './server-process.js'

/**
 * The AWS SDK for JS v3 with its default settings (CRC32 checksums, aws-chunked
 * streaming), path-style, and no retries: a test sees the server's first answer.
 */
export function sdkClient (endpoint: string, secret = SECRET_KEY): S3Client {
  return userSdkClient(endpoint, ACCESS_KEY, secret)
}

/** The same client signing with a user's own keys (an IAM user's, from userWithPolicy). */
export function userSdkClient (endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey },
  })
}

/**
 * A raw SigV4 signer (and fetch) for requests no SDK would send, with the root
 * test credentials. No retries (aws4fetch's default is ten on any 5xx), so a
 * first answer of 503 fails the test instead of passing on the retry.
 */
export function signer (secret = SECRET_KEY): AwsClient {
  return s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: secret })
}

export async function text (res: Response): Promise<string> {
  return await res.text()
}

/** The <Code> of an S3 XML error body. */
export function errorCode (xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1]
}

/** What an SDK call ended with: `<status> <error name>`, or `no error`. */
export async function sdkOutcome (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return `${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode} ${(err as Error).name}` }
  return 'no error'
}
