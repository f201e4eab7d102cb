/**
 * A SigV4 presigned URL's x-amz-* query parameters, read as the request's
 * headers (S3 does; the SDKs move every x-amz-* header there when they
 * presign). End to end with the SDK's own URLs: sdk.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { withPresignedHeaders } from '../../src/s3-shim/auth/presigned-headers.js'
import { blobBodyOf, requestWithBlob } from '../../src/s3-shim/blob-bodies.js'
import { S3Error } from '../../src/core/errors.js'

const AUTH = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Security-Token=t&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD'
const presigned = (extra: string, init?: RequestInit): Request => new Request(`http://s3.test/b/k?${AUTH}&${extra}`, init)

describe('withPresignedHeaders', () => {
  it('makes the query\'s x-amz-* parameters headers, not the URL\'s own parameters nor its checksum values', async () => {
    const request = presigned('x-amz-meta-owner=Ana%20Lee&x-amz-copy-source=b%2Fsrc%2Bplus&x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32&x-amz-checksum-algorithm=SHA256&x-id=PutObject', { method: 'PUT', body: 'bytes' })
    const out = withPresignedHeaders(request, new URL(request.url))
    assert.deepEqual([...out.headers].filter(([name]) => name.startsWith('x-amz-')).sort(), [
      ['x-amz-checksum-algorithm', 'SHA256'], ['x-amz-copy-source', 'b/src+plus'], ['x-amz-meta-owner', 'Ana Lee'], ['x-amz-sdk-checksum-algorithm', 'CRC32'],
    ])
    assert.deepEqual([out.method, out.url, await out.text()], ['PUT', request.url, 'bytes'], 'method, URL and body kept')
  })

  it('keeps a header the request carries, and leaves requests that are not presigned as they are', () => {
    const carried = presigned('x-amz-acl=public-read', { method: 'PUT', headers: { 'x-amz-acl': 'private' } })
    assert.equal(withPresignedHeaders(carried, new URL(carried.url)).headers.get('x-amz-acl'), 'private')
    const headerSigned = new Request('http://s3.test/b/k?x-amz-acl=public-read', { headers: { authorization: 'AWS4-HMAC-SHA256 ...' } })
    assert.equal(withPresignedHeaders(headerSigned, new URL(headerSigned.url)), headerSigned)
    const nothing = presigned('x-id=GetObject')
    assert.equal(withPresignedHeaders(nothing, new URL(nothing.url)), nothing, 'nothing to move: the same request')
  })

  it('gives a value beyond ASCII as a header carries it: its UTF-8 bytes, one a character', () => {
    const request = presigned('x-amz-meta-city=%C5%81%C3%B3d%C5%BA', { method: 'PUT', body: 'x' })
    const value = withPresignedHeaders(request, new URL(request.url)).headers.get('x-amz-meta-city')!
    assert.equal(new TextDecoder().decode(Uint8Array.from(value, c => c.charCodeAt(0))), 'Łódź')
  })

  it('keeps a Blob body known as such', () => {
    const blob = new Blob(['in a blob'])
    const request = requestWithBlob(`http://s3.test/b/k?${AUTH}&x-amz-meta-a=b`, { method: 'PUT' }, blob)
    assert.equal(blobBodyOf(withPresignedHeaders(request, new URL(request.url))), blob)
  })

  it('refuses a value no header may hold with InvalidArgument', () => {
    const request = presigned('x-amz-meta-a=line%0Abreak')
    assert.throws(() => withPresignedHeaders(request, new URL(request.url)), (err: unknown) => err instanceof S3Error && err.code === 'InvalidArgument' && /x-amz-meta-a/.test(err.message))
  })
})
