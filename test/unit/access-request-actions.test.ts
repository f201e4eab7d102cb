/**
 * permissionsFor: every S3 operation the router names maps to the IAM
 * action(s) and resource(s) AWS documents, with the condition keys S3 defines
 * for it; a copy needs GetObject on its source, DeleteObjects DeleteObject per
 * key, a preflight nothing.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { permissionsFor } from '../../src/s3-shim/access/request-actions.js'
import { route, type Operation } from '../../src/s3-shim/router.js'
import { tagsFromHeader } from '../../src/s3-shim/http/metadata.js'
import { isS3Error } from '../../src/core/errors.js'

const CLIENT = { sourceIp: '10.0.0.7', secure: false, now: Date.parse('2026-11-30T00:00:00Z') }

function perms (method: string, path: string, headers: Record<string, string> = {}, deleteKeys?: Array<string | { key: string, versionId?: string, ifMatch?: string }>): Array<[string, string]> {
  const request = new Request(`http://127.0.0.1:9000${path}`, { method, headers })
  return permissionsFor(route(request, new URL(request.url)), request.headers, CLIENT, deleteKeys).map(p => [p.action, p.resource])
}

describe('permissionsFor', () => {
  const cases: Array<[string, string, Array<[string, string]>, Record<string, string>?]> = [
    ['GET', '/', [['s3:ListAllMyBuckets', 'arn:aws:s3:::*']]],
    ['PUT', '/photos', [['s3:CreateBucket', 'arn:aws:s3:::photos']]],
    ['HEAD', '/photos', [['s3:ListBucket', 'arn:aws:s3:::photos']]],
    ['DELETE', '/photos', [['s3:DeleteBucket', 'arn:aws:s3:::photos']]],
    ['GET', '/photos?list-type=2&prefix=a/', [['s3:ListBucket', 'arn:aws:s3:::photos']]],
    ['GET', '/photos?location', [['s3:GetBucketLocation', 'arn:aws:s3:::photos']]],
    ['GET', '/photos?cors', [['s3:GetBucketCORS', 'arn:aws:s3:::photos']]],
    ['PUT', '/photos?cors', [['s3:PutBucketCORS', 'arn:aws:s3:::photos']]],
    ['DELETE', '/photos?cors', [['s3:PutBucketCORS', 'arn:aws:s3:::photos']]],
    ['GET', '/photos?uploads', [['s3:ListBucketMultipartUploads', 'arn:aws:s3:::photos']]],
    ['GET', '/photos/a/cat.jpg', [['s3:GetObject', 'arn:aws:s3:::photos/a/cat.jpg']]],
    ['HEAD', '/photos/a/cat.jpg', [['s3:GetObject', 'arn:aws:s3:::photos/a/cat.jpg']]],
    ['PUT', '/photos/cat.jpg', [['s3:PutObject', 'arn:aws:s3:::photos/cat.jpg']]],
    ['DELETE', '/photos/cat.jpg', [['s3:DeleteObject', 'arn:aws:s3:::photos/cat.jpg']]],
    ['GET', '/photos/cat.jpg?tagging', [['s3:GetObjectTagging', 'arn:aws:s3:::photos/cat.jpg']]],
    ['PUT', '/photos/cat.jpg?tagging', [['s3:PutObjectTagging', 'arn:aws:s3:::photos/cat.jpg']]],
    ['DELETE', '/photos/cat.jpg?tagging', [['s3:DeleteObjectTagging', 'arn:aws:s3:::photos/cat.jpg']]],
    ['GET', '/photos/cat.jpg?acl', [['s3:GetObjectAcl', 'arn:aws:s3:::photos/cat.jpg']]],
    ['POST', '/photos/big.bin?uploads', [['s3:PutObject', 'arn:aws:s3:::photos/big.bin']]],
    ['PUT', '/photos/big.bin?partNumber=1&uploadId=u', [['s3:PutObject', 'arn:aws:s3:::photos/big.bin']]],
    ['POST', '/photos/big.bin?uploadId=u', [['s3:PutObject', 'arn:aws:s3:::photos/big.bin']]],
    ['DELETE', '/photos/big.bin?uploadId=u', [['s3:AbortMultipartUpload', 'arn:aws:s3:::photos/big.bin']]],
    ['GET', '/photos/big.bin?uploadId=u', [['s3:ListMultipartUploadParts', 'arn:aws:s3:::photos/big.bin']]],
    ['PUT', '/photos/copy.jpg', [['s3:PutObject', 'arn:aws:s3:::photos/copy.jpg'], ['s3:GetObject', 'arn:aws:s3:::album/a b/cat.jpg']], { 'x-amz-copy-source': '/album/a%20b/cat.jpg' }],
    ['PUT', '/photos/big.bin?partNumber=2&uploadId=u', [['s3:PutObject', 'arn:aws:s3:::photos/big.bin'], ['s3:GetObject', 'arn:aws:s3:::album/src.bin']], { 'x-amz-copy-source': 'album/src.bin' }],
  ]
  for (const [method, path, want, headers] of cases) {
    it(`${method} ${path}${headers === undefined ? '' : ' (copy)'}`, () => { assert.deepEqual(perms(method, path, headers), want) })
  }

  it('maps every operation the router names', () => {
    const operations: Operation[] = ['ListBuckets', 'CreateBucket', 'HeadBucket', 'DeleteBucket', 'GetBucketLocation', 'GetBucketCors', 'PutBucketCors', 'DeleteBucketCors',
      'GetBucketVersioning', 'GetBucketAcl', 'ListObjects', 'ListObjectsV2', 'ListMultipartUploads', 'PutObject', 'GetObject', 'HeadObject', 'DeleteObject', 'CopyObject',
      'GetObjectAcl', 'GetObjectTagging', 'PutObjectTagging', 'DeleteObjectTagging', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload',
      'AbortMultipartUpload', 'ListParts', 'GetBucketEncryption', 'GetBucketTagging', 'GetBucketWebsite', 'GetBucketReplication', 'GetPublicAccessBlock',
      'GetBucketOwnershipControls', 'GetBucketRequestPayment', 'GetBucketLogging', 'GetBucketAccelerateConfiguration', 'GetBucketNotificationConfiguration']
    const headers = new Headers()
    for (const operation of operations) {
      const got = permissionsFor({ operation, bucket: 'b', key: 'k', query: new Map(), virtualHosted: false }, headers, CLIENT)
      assert.ok(got.length >= 1 && got.every(p => p.action.startsWith('s3:')), operation)
    }
  })

  it('a request naming a version needs the *Version action, with s3:versionid; a copy of a version GetObjectVersion on its source', () => {
    for (const [method, path, action] of [
      ['GET', '/photos/a?versionId=v1', 's3:GetObjectVersion'], ['HEAD', '/photos/a?versionId=v1', 's3:GetObjectVersion'], ['DELETE', '/photos/a?versionId=v1', 's3:DeleteObjectVersion'],
      ['GET', '/photos/a?tagging&versionId=v1', 's3:GetObjectVersionTagging'], ['PUT', '/photos/a?tagging&versionId=v1', 's3:PutObjectVersionTagging'], ['DELETE', '/photos/a?tagging&versionId=v1', 's3:DeleteObjectVersionTagging'],
      ['GET', '/photos/a?acl&versionId=v1', 's3:GetObjectVersionAcl'], ['GET', '/photos/a?attributes&versionId=v1', 's3:GetObjectVersionAttributes'],
    ] as const) {
      const request = new Request(`http://127.0.0.1:9000${path}`, { method })
      const [p] = permissionsFor(route(request, new URL(request.url)), request.headers, CLIENT)
      assert.deepEqual([p!.action, p!.resource, p!.context['s3:versionid']], [action, 'arn:aws:s3:::photos/a', 'v1'], `${method} ${path}`)
    }
    assert.deepEqual(perms('PUT', '/photos/b', { 'x-amz-copy-source': '/src/a?versionId=v9' }), [['s3:PutObject', 'arn:aws:s3:::photos/b'], ['s3:GetObjectVersion', 'arn:aws:s3:::src/a']])
    assert.deepEqual(perms('POST', '/photos?delete', {}, [{ key: 'a', versionId: 'v1' }, { key: 'b' }]), [['s3:DeleteObjectVersion', 'arn:aws:s3:::photos/a'], ['s3:DeleteObject', 'arn:aws:s3:::photos/b']])
  })

  it('a write that sets tags needs s3:PutObjectTagging too; GetObjectAttributes the read permission too', () => {
    assert.deepEqual(perms('PUT', '/photos/a', { 'x-amz-tagging': 'k=v' }), [['s3:PutObject', 'arn:aws:s3:::photos/a'], ['s3:PutObjectTagging', 'arn:aws:s3:::photos/a']])
    assert.deepEqual(perms('POST', '/photos/a?uploads', { 'x-amz-tagging': 'k=v' }), [['s3:PutObject', 'arn:aws:s3:::photos/a'], ['s3:PutObjectTagging', 'arn:aws:s3:::photos/a']])
    assert.deepEqual(perms('PUT', '/photos/a', { 'x-amz-copy-source': '/photos/b', 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'k=v' }),
      [['s3:PutObject', 'arn:aws:s3:::photos/a'], ['s3:PutObjectTagging', 'arn:aws:s3:::photos/a'], ['s3:GetObject', 'arn:aws:s3:::photos/b']])
    assert.deepEqual(perms('PUT', '/photos/a', { 'x-amz-copy-source': '/photos/b', 'x-amz-tagging': 'k=v' }), [['s3:PutObject', 'arn:aws:s3:::photos/a'], ['s3:GetObject', 'arn:aws:s3:::photos/b']], 'a copy keeping its source\'s tags sets none')
    assert.deepEqual(perms('PUT', '/photos/a', { 'x-amz-tagging': '' }), [['s3:PutObject', 'arn:aws:s3:::photos/a']], 'an empty tag set sets none')
    assert.deepEqual(perms('GET', '/photos/a?attributes'), [['s3:GetObjectAttributes', 'arn:aws:s3:::photos/a'], ['s3:GetObject', 'arn:aws:s3:::photos/a']])
    assert.deepEqual(perms('GET', '/photos/a?attributes&versionId=v1'), [['s3:GetObjectVersionAttributes', 'arn:aws:s3:::photos/a'], ['s3:GetObjectVersion', 'arn:aws:s3:::photos/a']])
  })

  it('a conditional delete on an ETag needs s3:GetObject too, not one on *; a policy sees s3:if-match and s3:if-none-match', () => {
    assert.deepEqual(perms('DELETE', '/photos/a', { 'if-match': '"abc"' }), [['s3:DeleteObject', 'arn:aws:s3:::photos/a'], ['s3:GetObject', 'arn:aws:s3:::photos/a']])
    assert.deepEqual(perms('DELETE', '/photos/a', { 'if-match': '*' }), [['s3:DeleteObject', 'arn:aws:s3:::photos/a']])
    assert.deepEqual(perms('POST', '/photos?delete', {}, [{ key: 'a', ifMatch: '"abc"' }, { key: 'b', ifMatch: '*' }, { key: 'c' }]),
      [['s3:DeleteObject', 'arn:aws:s3:::photos/a'], ['s3:GetObject', 'arn:aws:s3:::photos/a'], ['s3:DeleteObject', 'arn:aws:s3:::photos/b'], ['s3:DeleteObject', 'arn:aws:s3:::photos/c']])
    const del = new Request('http://127.0.0.1:9000/photos/a', { method: 'DELETE', headers: { 'if-match': '"abc"' } })
    assert.equal(permissionsFor(route(del, new URL(del.url)), del.headers, CLIENT)[0]!.context['s3:if-match'], '"abc"')
    const [batch] = permissionsFor(route(new Request('http://127.0.0.1:9000/photos?delete', { method: 'POST' }), new URL('http://127.0.0.1:9000/photos?delete')), new Headers(), CLIENT, [{ key: 'a', ifMatch: '*' }])
    assert.equal(batch!.context['s3:if-match'], '*')
    const put = new Request('http://127.0.0.1:9000/photos/a', { method: 'PUT', headers: { 'if-none-match': '*' } })
    assert.equal(permissionsFor(route(put, new URL(put.url)), put.headers, CLIENT)[0]!.context['s3:if-none-match'], '*')
  })

  it('DeleteObjects needs DeleteObject on each key; a preflight needs nothing', () => {
    assert.deepEqual(perms('POST', '/photos?delete', {}, ['a', 'b/c']), [['s3:DeleteObject', 'arn:aws:s3:::photos/a'], ['s3:DeleteObject', 'arn:aws:s3:::photos/b/c']])
    const pre = new Request('http://127.0.0.1:9000/photos/a', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } })
    assert.deepEqual(permissionsFor(route(pre, new URL(pre.url)), pre.headers, CLIENT), [])
  })

  it('gives a listing s3:prefix, s3:delimiter and s3:max-keys, a tagged write its tags, every request the global keys', () => {
    const list = new Request('http://127.0.0.1:9000/photos?list-type=2&prefix=home%2Falice%2F&delimiter=%2F&max-keys=10', { headers: { referer: 'https://app.example.com/', 'user-agent': 'aws-cli/2' } })
    const [p] = permissionsFor(route(list, new URL(list.url)), list.headers, CLIENT)
    assert.equal(p!.context['s3:prefix'], 'home/alice/')
    assert.equal(p!.context['s3:delimiter'], '/')
    assert.equal(p!.context['s3:max-keys'], '10')
    assert.equal(p!.context['aws:SourceIp'], '10.0.0.7')
    assert.equal(p!.context['aws:SecureTransport'], 'false')
    assert.equal(p!.context['aws:CurrentTime'], '2026-11-30T00:00:00.000Z')
    assert.equal(p!.context['aws:Referer'], 'https://app.example.com/')
    const put = new Request('http://127.0.0.1:9000/photos/a', { method: 'PUT', headers: { 'x-amz-tagging': 'project=s3mesh&owner=alice' } })
    const [w] = permissionsFor(route(put, new URL(put.url)), put.headers, CLIENT)
    assert.equal(w!.context['s3:RequestObjectTag/project'], 's3mesh')
    assert.deepEqual(w!.context['s3:RequestObjectTagKeys'], ['project', 'owner'])
  })

  it('reads x-amz-tagging as the stored tags are read: the same decoding, and malformed percent-encoding refused before any policy is matched', () => {
    const headers = new Headers({ 'x-amz-tagging': '?team=r%26d+ops&k%3D1=a=b' })
    const put = new Request('http://127.0.0.1:9000/photos/a', { method: 'PUT', headers })
    const [w] = permissionsFor(route(put, new URL(put.url)), headers, CLIENT)
    assert.deepEqual(tagsFromHeader(headers), { team: 'r&d ops', 'k=1': 'a=b' })
    assert.equal(w!.context['s3:RequestObjectTag/team'], 'r&d ops')
    assert.equal(w!.context['s3:RequestObjectTag/k=1'], 'a=b')
    assert.deepEqual(w!.context['s3:RequestObjectTagKeys'], ['team', 'k=1'])
    const bad = new Headers({ 'x-amz-tagging': 'team=%E0%A4' })
    const req = new Request('http://127.0.0.1:9000/photos/a', { method: 'PUT', headers: bad })
    assert.throws(() => permissionsFor(route(req, new URL(req.url)), bad, CLIENT), (err: unknown) => isS3Error(err, 'InvalidArgument') && /x-amz-tagging/.test((err as Error).message))
    assert.throws(() => tagsFromHeader(bad), (err: unknown) => isS3Error(err, 'InvalidArgument'))
  })

  it('gives a copy the header\'s tags only when it replaces the source\'s: one that keeps them is not judged by a header it ignores', () => {
    const copy = (headers: Record<string, string>): ReturnType<typeof permissionsFor> => {
      const h = new Headers({ 'x-amz-copy-source': '/photos/secret', ...headers })
      const req = new Request('http://127.0.0.1:9000/photos/copy', { method: 'PUT', headers: h })
      return permissionsFor(route(req, new URL(req.url)), h, CLIENT)
    }
    assert.equal(copy({ 'x-amz-tagging': 'class=public' })[0]!.action, 's3:PutObject', 'the precondition: a copy is judged as a PutObject')
    for (const kept of [{}, { 'x-amz-tagging-directive': 'COPY' }] as Array<Record<string, string>>) {
      const [p] = copy({ ...kept, 'x-amz-tagging': 'class=public' })
      assert.equal(p!.context['s3:RequestObjectTag/class'], undefined)
      assert.equal(p!.context['s3:RequestObjectTagKeys'], undefined)
      assert.doesNotThrow(() => copy({ ...kept, 'x-amz-tagging': 'class=%E0%A4' }), 'a malformed header the copy ignores is not read')
    }
    const [r] = copy({ 'x-amz-tagging-directive': 'replace', 'x-amz-tagging': 'class=public' })
    assert.equal(r!.context['s3:RequestObjectTag/class'], 'public')
    assert.throws(() => copy({ 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'class=%E0%A4' }), (err: unknown) => isS3Error(err, 'InvalidArgument'))
  })
})

describe('ACLs set while writing', () => {
  it('need s3:PutObjectAcl (or s3:PutBucketAcl) besides the write: PutObject alone cannot make an object public', () => {
    const put = permissionsFor(route(new Request('http://h/b/k', { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } }), new URL('http://h/b/k')), new Headers({ 'x-amz-acl': 'public-read' }), { secure: false, now: 0 })
    assert.deepEqual(put.map(p => p.action), ['s3:PutObject', 's3:PutObjectAcl'])
    const plain = permissionsFor(route(new Request('http://h/b/k', { method: 'PUT' }), new URL('http://h/b/k')), new Headers(), { secure: false, now: 0 })
    assert.deepEqual(plain.map(p => p.action), ['s3:PutObject'])
    const bucket = permissionsFor(route(new Request('http://h/b', { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } }), new URL('http://h/b')), new Headers({ 'x-amz-acl': 'public-read' }), { secure: false, now: 0 })
    assert.deepEqual(bucket.map(p => p.action), ['s3:CreateBucket', 's3:PutBucketAcl'])
  })

  it('grants by header need them too, and a policy sees them as s3:x-amz-grant-*', () => {
    const grant = { 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }
    for (const [method, path, actions] of [['PUT', '/b/k', ['s3:PutObject', 's3:PutObjectAcl']], ['POST', '/b/k?uploads', ['s3:PutObject', 's3:PutObjectAcl']], ['PUT', '/b', ['s3:CreateBucket', 's3:PutBucketAcl']]] as const) {
      const got = permissionsFor(route(new Request(`http://h${path}`, { method, headers: grant }), new URL(`http://h${path}`)), new Headers(grant), { secure: false, now: 0 })
      assert.deepEqual(got.map(p => p.action), actions, `${method} ${path}`)
      assert.equal(got[0]!.context['s3:x-amz-grant-read'], grant['x-amz-grant-read'])
    }
  })
})
