import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { parseQuery, rawPathProblem, route, UNSET_SETTING_READS } from '../../src/s3-shim/router.js'

function op (method: string, target: string, headers: Record<string, string> = {}, options = {}): string {
  const url = new URL('http://localhost:9000' + target)
  const r = route(new Request(url, { method, headers }), url, options)
  return `${r.operation} ${r.bucket}|${r.key}`
}

describe('router', () => {
  const table: Array<[string, string, Record<string, string>, string]> = [
    ['GET', '/', {}, 'ListBuckets |'],
    ['PUT', '/b1', {}, 'CreateBucket b1|'],
    ['HEAD', '/b1', {}, 'HeadBucket b1|'],
    ['DELETE', '/b1/', {}, 'DeleteBucket b1|'],
    ['GET', '/b1?location', {}, 'GetBucketLocation b1|'],
    ['GET', '/b1?cors', {}, 'GetBucketCors b1|'],
    ['GET', '/b1?lifecycle', {}, 'GetBucketLifecycleConfiguration b1|'],
    ['PUT', '/b1?lifecycle', {}, 'PutBucketLifecycleConfiguration b1|'],
    ['DELETE', '/b1?lifecycle', {}, 'DeleteBucketLifecycle b1|'],
    ['PUT', '/b1?cors', {}, 'PutBucketCors b1|'],
    ['DELETE', '/b1?cors', {}, 'DeleteBucketCors b1|'],
    ['GET', '/b1?policy', {}, 'GetBucketPolicy b1|'],
    ['PUT', '/b1?policy', {}, 'PutBucketPolicy b1|'],
    ['DELETE', '/b1?policy', {}, 'DeleteBucketPolicy b1|'],
    ['GET', '/b1?policyStatus', {}, 'GetBucketPolicyStatus b1|'],
    ['GET', '/b1?acl', {}, 'GetBucketAcl b1|'],
    ['PUT', '/b1?acl', {}, 'PutBucketAcl b1|'],
    ['GET', '/b1/k?acl', {}, 'GetObjectAcl b1|k'],
    ['PUT', '/b1/k?acl', {}, 'PutObjectAcl b1|k'],
    ['GET', '/b1/k?attributes', {}, 'GetObjectAttributes b1|k'],
    ['GET', '/b1', {}, 'ListObjects b1|'],
    ['GET', '/b1?list-type=2&prefix=a', {}, 'ListObjectsV2 b1|'],
    ['GET', '/b1?uploads', {}, 'ListMultipartUploads b1|'],
    ['GET', '/b1?versions&prefix=a', {}, 'ListObjectVersions b1|'],
    ['GET', '/b1?versioning', {}, 'GetBucketVersioning b1|'],
    ['PUT', '/b1?versioning', {}, 'PutBucketVersioning b1|'],
    ['POST', '/b1?delete', {}, 'DeleteObjects b1|'],
    ['POST', '/b1', {}, 'PostObject b1|'],
    ['PUT', '/b1/a/b.txt', {}, 'PutObject b1|a/b.txt'],
    ['PUT', '/b1/a%20b%2Bc', {}, 'PutObject b1|a b+c'],
    ['PUT', '/b1/k', { 'x-amz-copy-source': '/b2/x' }, 'CopyObject b1|k'],
    ['GET', '/b1/k', {}, 'GetObject b1|k'],
    ['HEAD', '/b1/k', {}, 'HeadObject b1|k'],
    ['DELETE', '/b1/k', {}, 'DeleteObject b1|k'],
    ['GET', '/b1/k?tagging', {}, 'GetObjectTagging b1|k'],
    ['PUT', '/b1/k?tagging', {}, 'PutObjectTagging b1|k'],
    ['DELETE', '/b1/k?tagging', {}, 'DeleteObjectTagging b1|k'],
    ['POST', '/b1/k?uploads', {}, 'CreateMultipartUpload b1|k'],
    ['PUT', '/b1/k?partNumber=1&uploadId=u', {}, 'UploadPart b1|k'],
    ['PUT', '/b1/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': 'b2/x' }, 'UploadPartCopy b1|k'],
    ['POST', '/b1/k?uploadId=u', {}, 'CompleteMultipartUpload b1|k'],
    ['DELETE', '/b1/k?uploadId=u', {}, 'AbortMultipartUpload b1|k'],
    ['GET', '/b1/k?uploadId=u', {}, 'ListParts b1|k'],
    ['OPTIONS', '/b1/k', {}, 'Preflight b1|k'],
    ['GET', '/b1/dir/', {}, 'GetObject b1|dir/'],
  ]
  for (const [method, target, headers, expected] of table) {
    it(`${method} ${target}${headers['x-amz-copy-source'] !== undefined ? ' (copy)' : ''} -> ${expected}`, () => {
      assert.equal(op(method, target, headers), expected)
    })
  }

  it('virtual-hosted style takes the bucket from the host', () => {
    assert.equal(op('GET', '/k/x', { host: 'photos.localhost:9000' }, { virtualHostDomains: ['localhost'] }), 'GetObject photos|k/x')
  })

  it('routes a GET of a bucket setting s3mesh cannot set to its read (answered as S3 does for a bucket without it)', () => {
    for (const [query, operation] of Object.entries(UNSET_SETTING_READS)) assert.equal(op('GET', `/b1?${query}`), `${operation} b1|`, query)
  })

  it('refuses unsupported sub-resources and methods with S3 errors', () => {
    for (const [m, t, code] of [['PUT', '/b1?replication', 'NotImplemented'], ['GET', '/b1/k?encryption', 'NotImplemented'], ['GET', '/b1/k?lifecycle', 'NotImplemented'], ['POST', '/b1?lifecycle', 'MethodNotAllowed'], ['POST', '/b1/k', 'MethodNotAllowed'], ['DELETE', '/', 'MethodNotAllowed'], ['PUT', '/b1?tagging', 'NotImplemented']]) {
      assert.throws(() => op(m!, t!), (e: unknown) => isS3Error(e) && e.code === code, `${m} ${t}`)
    }
  })

  it('keeps + literal in query values and decodes percent-escapes', () => {
    assert.deepEqual([...parseQuery('?prefix=a+b%2Fc&uploads&x=')], [['prefix', 'a+b/c'], ['uploads', ''], ['x', '']])
    assert.throws(() => parseQuery('?prefix=%E0%A4%A'), (e: unknown) => isS3Error(e, 'InvalidArgument'))
  })

  it('finds dot segments in the raw path before a URL parser removes them', () => {
    for (const p of ['/b/../x', '/b/%2e%2e/x', '/b/%2E%2e/x', '/b/./x', '/b/%2e/x', '/b/.%2E/x', '/b/k/..']) assert.ok(rawPathProblem(p) !== undefined, p)
    for (const p of ['/b/...', '/b/.x', '/b/a..b/c', '/b/x?a=..']) assert.equal(rawPathProblem(p), undefined, p)
  })
})
