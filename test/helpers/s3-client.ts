import { S3Client } from '@aws-sdk/client-s3'
import { AwsClient } from 'aws4fetch'
import { ACCESS_KEY, SECRET_KEY } from './server-process.js'

/** The AWS SDK for JS v3 with its default settings (CRC32 checksums, aws-chunked streaming), path-style. */
export function sdkClient (endpoint: string, secret = SECRET_KEY): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: secret },
  })
}

/** A raw SigV4 signer for requests no SDK would send (malformed bodies, odd keys). */
export function signer (secret = SECRET_KEY): AwsClient {
  return new AwsClient({ accessKeyId: ACCESS_KEY, secretAccessKey: secret, service: 's3', region: 'us-east-1' })
}

export async function text (res: Response): Promise<string> {
  return await res.text()
}

/** The <Code> of an S3 XML error body. */
export function errorCode (xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1]
}
