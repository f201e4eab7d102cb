/**
 * Object ACLs against a real server: the canned ACL a CreateMultipartUpload
 * asks for (x-amz-acl) is kept with the upload, so the object its completion
 * makes has it also when the node was restarted in between (it was once kept
 * in the node's memory only); an object's ACL goes with its version, not with
 * other versions of the key deleted (s3mesh keeps one ACL per key).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, it } from 'node:test'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
let node: ServerProcess

before(async () => { node = await startServerProcess({ args: ['--no-console'] }) })
after(async () => { await node.stop() })

async function ok (res: Response): Promise<string> {
  const text = await res.text()
  assert.equal(res.status, 200, text)
  return text
}

/** Begins an upload of `key` with one part, asking for `acl` if given; returns its id and the part's ETag. */
async function begin (key: string, acl?: string): Promise<{ uploadId: string, etag: string }> {
  const created = await ok(await sign.fetch(`${node.url}/pub/${key}?uploads`, { method: 'POST', headers: acl === undefined ? {} : { 'x-amz-acl': acl } }))
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)![1]!
  const part = await sign.fetch(`${node.url}/pub/${key}?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', body: `bytes of ${key}` })
  await ok(part)
  return { uploadId, etag: part.headers.get('etag')! }
}

async function complete (key: string, { uploadId, etag }: { uploadId: string, etag: string }): Promise<void> {
  await ok(await sign.fetch(`${node.url}/pub/${key}?uploadId=${uploadId}`, { method: 'POST', body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>` }))
}

it('an upload begun with x-amz-acl: public-read completes public-read after a restart; one without completes private', async () => {
  await ok(await sign.fetch(`${node.url}/pub`, { method: 'PUT' }))
  const open = await begin('open', 'public-read')
  const closed = await begin('closed')
  await node.stop({ remove: false })
  node = await startServerProcess({ dataDir: node.dataDir, args: ['--no-console'] })

  await complete('open', open)
  await complete('closed', closed)
  const anonymous = await fetch(`${node.url}/pub/open`)
  assert.equal(anonymous.status, 200, 'anyone reads the object its upload asked to be public-read')
  assert.equal(await anonymous.text(), 'bytes of open')
  assert.match(await ok(await sign.fetch(`${node.url}/pub/open?acl`)), /AllUsers<\/URI><\/Grantee><Permission>READ/)
  assert.equal((await fetch(`${node.url}/pub/closed`)).status, 403, 'and not the one its upload asked nothing for')
  assert.doesNotMatch(await ok(await sign.fetch(`${node.url}/pub/closed?acl`)), /AllUsers/)
})

it('in a versioned bucket, deleting other versions or putting a delete marker over the object keeps its ACL; deleting the version itself does not', async () => {
  await ok(await sign.fetch(`${node.url}/ver`, { method: 'PUT' }))
  await ok(await sign.fetch(`${node.url}/ver/k`, { method: 'PUT', body: 'from before versioning' }))
  await ok(await sign.fetch(`${node.url}/ver?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' }))
  await ok(await sign.fetch(`${node.url}/ver/k`, { method: 'PUT', body: 'one' }))
  const two = await sign.fetch(`${node.url}/ver/k`, { method: 'PUT', body: 'two', headers: { 'x-amz-acl': 'public-read' } })
  await ok(two)
  const anonymous = async (): Promise<string> => { const res = await fetch(`${node.url}/ver/k`); return `${res.status} ${await res.text()}` }
  assert.equal(await anonymous(), '200 two', 'precondition: the current version is public')

  // The null version, from before versioning, deleted in a batch.
  const batch = '<Delete><Object><Key>k</Key><VersionId>null</VersionId></Object></Delete>'
  assert.match(await ok(await sign.fetch(`${node.url}/ver?delete`, { method: 'POST', body: batch, headers: { 'content-md5': createHash('md5').update(batch).digest('base64') } })), /<Deleted><Key>k<\/Key><VersionId>null<\/VersionId>/)
  assert.equal(await anonymous(), '200 two', 'after the null version was deleted')

  const marker = await sign.fetch(`${node.url}/ver/k`, { method: 'DELETE' })
  assert.equal(marker.status, 204)
  assert.equal(marker.headers.get('x-amz-delete-marker'), 'true')
  assert.equal((await sign.fetch(`${node.url}/ver/k?versionId=${marker.headers.get('x-amz-version-id')!}`, { method: 'DELETE' })).status, 204)
  assert.equal(await anonymous(), '200 two', 'after a delete marker was put over it and removed')

  assert.equal((await sign.fetch(`${node.url}/ver/k?versionId=${two.headers.get('x-amz-version-id')!}`, { method: 'DELETE' })).status, 204)
  assert.equal((await sign.fetch(`${node.url}/ver/k`)).status, 200, 'the version before is current again')
  assert.equal((await fetch(`${node.url}/ver/k`)).status, 403, 'and private: the public ACL went with its version')

  // The public version deleted by id while a delete marker hides it: the version before it comes back private.
  await ok(await sign.fetch(`${node.url}/ver/k2`, { method: 'PUT', body: 'one' }))
  const public2 = await sign.fetch(`${node.url}/ver/k2`, { method: 'PUT', body: 'two', headers: { 'x-amz-acl': 'public-read' } })
  await ok(public2)
  const marker2 = await sign.fetch(`${node.url}/ver/k2`, { method: 'DELETE' })
  assert.equal((await sign.fetch(`${node.url}/ver/k2?versionId=${public2.headers.get('x-amz-version-id')!}`, { method: 'DELETE' })).status, 204)
  assert.equal((await sign.fetch(`${node.url}/ver/k2?versionId=${marker2.headers.get('x-amz-version-id')!}`, { method: 'DELETE' })).status, 204)
  assert.equal(await ok(await sign.fetch(`${node.url}/ver/k2`)), 'one')
  assert.equal((await fetch(`${node.url}/ver/k2`)).status, 403, 'the version before was never public')
})
