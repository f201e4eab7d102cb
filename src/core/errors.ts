/**
 * Typed S3 errors. One table maps every AWS error code s3mesh uses to its HTTP
 * status and default message, so a store, the protocol handler and an adapter
 * all throw the same `S3Error(code)` and it renders itself as S3 XML.
 * Codes and statuses: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
const table = {
  AccessDenied: [403, 'Access Denied.'],
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'The presigned URL query parameters are malformed.'],
  BadDigest: [400, 'The Content-MD5 or checksum you specified did not match what we received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  ConditionalRequestConflict: [409, 'A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InsufficientStorage: [507, 'The server has no space left to store this object.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InvalidAccessKeyId: [403, 'The AWS access key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 or checksum you specified is not valid.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidRange: [416, 'The requested range is not satisfiable.'],
  InvalidRequest: [400, 'Invalid Request.'],
  InvalidRetentionPeriod: [400, 'The retention period must be a positive integer value.'],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MalformedPolicy: [400, 'Policies must be valid JSON and the first byte must be \'{\'.'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MaxPostPreDataLengthExceeded: [400, 'Your POST request fields preceding the upload file were too large.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist.'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist.'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found.'],
  NoSuchTagSet: [404, 'The TagSet does not exist.'],
  NoSuchWebsiteConfiguration: [404, 'The specified bucket does not have a website configuration.'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.'],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified.'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found.'],
  ReplicationConfigurationNotFoundError: [404, 'The replication configuration was not found.'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found.'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket.'],
  PreconditionFailed: [412, 'At least one of the preconditions you specified did not hold.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the server\'s time is too large.'],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  UnexpectedContent: [400, 'This request does not support content.'],
  XAmzContentSHA256Mismatch: [400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.'],
} as const satisfies Record<string, readonly [number, string]>

export type S3ErrorCode = keyof typeof table

export interface S3ErrorOptions {
  /** The bucket or key the error is about; rendered as <Resource>. */
  resource?: string
  /** Extra elements rendered inside <Error>, e.g. { Key: 'a' } or { Condition: 'If-Match' }. */
  detail?: Record<string, string>
  /** Response headers the error needs, e.g. Content-Range on a 416. */
  headers?: Record<string, string>
  cause?: unknown
}

export class S3Error extends Error {
  static override name = 'S3Error'
  readonly code: S3ErrorCode
  readonly status: number
  readonly resource?: string
  readonly detail?: Record<string, string>
  readonly headers?: Record<string, string>

  constructor (code: S3ErrorCode, message?: string, options: S3ErrorOptions = {}) {
    super(message ?? table[code][1], { cause: options.cause })
    this.name = 'S3Error'
    this.code = code
    this.status = table[code][0]
    this.resource = options.resource
    this.detail = options.detail
    this.headers = options.headers
  }
}

/** The cause of a ServiceUnavailable that no node could be reached at all (not one key's trouble): what follows would wait on the same. */
export const UNREACHABLE = new Error('no node could be reached')

/** True when `err` is an S3Error, optionally of one code. */
export function isS3Error (err: unknown, code?: S3ErrorCode): err is S3Error {
  return err instanceof S3Error && (code === undefined || err.code === code)
}

/** True when `code` is one s3mesh knows (such as a code read from another S3 server's error). */
export function isS3ErrorCode (code: string): code is S3ErrorCode {
  return Object.hasOwn(table, code)
}

/** The HTTP status for a code, for callers that only need the number. */
export function statusOf (code: S3ErrorCode): number {
  return table[code][0]
}

/** Thrown by any operation whose AbortSignal fired. */
export class AbortError extends Error {
  static override name = 'AbortError'
  constructor (message = 'The operation was aborted') {
    super(message)
    this.name = 'AbortError'
  }
}
