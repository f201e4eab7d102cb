import { AwsClient } from 'aws4fetch'

/**
 * A SigV4 signer (and fetch) for s3mesh's own requests to S3 endpoints.
 * aws4fetch retries every 5xx answer ten times with backoff by default, about
 * 25 s on average before the last answer comes back; s3mesh's callers handle
 * a 503 themselves (fail over, show it, try the gateway), so they get it at once.
 */
export function s3Signer (credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }, service: 's3' | 'iam' | 'sts' = 's3'): AwsClient {
  return new AwsClient({ ...credentials, service, region: 'us-east-1', retries: 0 })
}
