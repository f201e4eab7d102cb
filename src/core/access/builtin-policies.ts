/**
 * The policies every s3mesh mesh has without creating them, named as MinIO
 * names them so `--policy readwrite` means what a MinIO user expects. One
 * difference: `readonly` here may also list buckets and objects (MinIO's may
 * only get objects, which leaves `aws s3 ls` refused for a read-only user),
 * and read a bucket's old versions and object lock, as AWS's read-only access may.
 */
export const BUILTIN_POLICIES: Record<string, string> = {
  readonly: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Action: [
        's3:GetBucketLocation', 's3:GetObject', 's3:ListBucket', 's3:ListAllMyBuckets', 's3:GetObjectTagging', 's3:GetObjectAttributes',
        's3:GetBucketVersioning', 's3:ListBucketVersions', 's3:GetObjectVersion', 's3:GetObjectVersionTagging', 's3:GetObjectVersionAttributes',
        's3:GetBucketObjectLockConfiguration', 's3:GetObjectRetention', 's3:GetObjectLegalHold',
      ],
      Resource: ['arn:aws:s3:::*'],
    }],
  }),
  readwrite: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] }],
  }),
  writeonly: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: ['arn:aws:s3:::*'] }],
  }),
  consoleAdmin: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['admin:*', 'iam:*', 'sts:*'], Resource: ['*'] },
      { Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] },
    ],
  }),
}

export function isBuiltinPolicy (name: string): boolean {
  return Object.hasOwn(BUILTIN_POLICIES, name)
}
