/** S3 errors come as XML: the code and message, in plain words where we know better ones. */
export async function explain (res: Response): Promise<string> {
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  const code = doc.querySelector('Code')?.textContent ?? `HTTP ${res.status}`
  const message = doc.querySelector('Message')?.textContent ?? ''
  switch (code) {
    case 'InvalidBucketName': return 'That is not a valid bucket name: use 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.'
    case 'BucketNotEmpty': return 'The bucket is not empty: delete its objects first.'
    case 'BucketAlreadyOwnedByYou': case 'BucketAlreadyExists': return 'A bucket with that name already exists.'
    case 'SignatureDoesNotMatch': case 'InvalidAccessKeyId': return 'Wrong access key or secret key.'
    case 'InsufficientStorage': return 'This browser has no room left for it (its storage quota is used up): delete objects or free disk space.'
    case 'AccessDenied':
      if (/object lock/.test(message)) return 'Object lock protects this version (a retention that has not ended, or a legal hold): it cannot be deleted or its retention shortened until then.'
      return `Your access does not allow this${message === '' || message === 'Access Denied.' ? '.' : `: ${message}`}`
    case 'InvalidBucketState': return message
    case 'MalformedPolicy': return message
    case 'ServiceUnavailable': case 'SlowDown': return 'The mesh cannot be reached right now (no node answered): check the network and try again.'
    default: return `${code}: ${message}`
  }
}
