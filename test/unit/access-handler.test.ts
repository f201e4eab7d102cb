/**
 * The access layer through the S3 handler, as an attacker would try it: each
 * case here is a hole a review found, shown open on the code before its fix.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { AccessAdmin } from '../../src/core/access/access-admin.js'
import { AccessControl } from '../../src/core/access/access-control.js'
import { AccessState } from '../../src/core/access/access-state.js'
import { evaluate } from '../../src/core/access/evaluate.js'
import { parsePolicy } from '../../src/core/access/policy.js'
import { wildcardMatch } from '../../src/core/access/policy-match.js'
import { SessionTokens } from '../../src/core/access/session-token.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { createS3Handler } from '../../src/s3-shim/index.js'
import { S3Error } from '../../src/core/errors.js'

const ROOT = { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret-1234' }
const root = s3Signer(ROOT)
const doc = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements })
const form = { 'content-type': 'application/x-www-form-urlencoded' }

async function setup (options: { sandboxObjects?: boolean } = {}): Promise<{ h: (r: Request) => Promise<Response>, admin: AccessAdmin, state: AccessState, access: AccessControl }> {
  const store = new MemoryStore()
  await store.createBucket('bkt')
  const state = new AccessState('n')
  const access = new AccessControl({ state, root: ROOT, tokens: new SessionTokens(await Keyring.create([Keyring.generateKey()], 't')) })
  const h = createS3Handler({ store, access, ...options })
  return { h: async r => await h(r), admin: new AccessAdmin(state, ROOT.accessKeyId), state, access }
}

async function userWith (admin: AccessAdmin, name: string, statements: unknown[]): Promise<ReturnType<typeof s3Signer>> {
  await admin.createUser(name)
  await admin.putInline('user', name, 'p', doc(statements))
  const key = await admin.createAccessKey(name)
  return s3Signer({ accessKeyId: key.id, secretAccessKey: key.secret })
}

const code = async (res: Response): Promise<string> => /<Code>([^<]+)</.exec(await res.text())?.[1] ?? String(res.status)

describe('access through the handler', () => {
  it('an IAM request\'s body is what is signed: a captured request cannot carry another action', async () => {
    const { h, state } = await setup()
    const signed = await s3Signer(ROOT, 'iam').sign('http://node/', { method: 'POST', headers: form, body: 'Action=ListUsers&Version=2010-05-08' })
    assert.equal((await h(signed.clone())).status, 200, 'the request as signed')
    const headers = new Headers(signed.headers)
    // The hash of the body that was signed, declared beside another body.
    headers.set('x-amz-content-sha256', createHash('sha256').update('Action=ListUsers&Version=2010-05-08').digest('hex'))
    const replayed = new Request(signed.url, { method: 'POST', headers, body: 'Action=CreateUser&UserName=mallory&Version=2010-05-08' })
    assert.equal(await code(await h(replayed)), 'SignatureDoesNotMatch')
    assert.equal(state.user('mallory'), undefined)
  })

  it('attaching or detaching a policy gives iam:PolicyARN: a delegated administrator kept from giving consoleAdmin cannot give it', async () => {
    const { h, admin, state } = await setup()
    await admin.createUser('helpdesk')
    await admin.putInline('user', 'helpdesk', 'p', doc([
      { Effect: 'Allow', Action: ['iam:AttachUserPolicy', 'iam:DetachUserPolicy'], Resource: '*' },
      { Effect: 'Deny', Action: ['iam:AttachUserPolicy', 'iam:DetachUserPolicy'], Resource: '*', Condition: { ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/consoleAdmin' } } },
    ]))
    const key = await admin.createAccessKey('helpdesk')
    const helpdesk = s3Signer({ accessKeyId: key.id, secretAccessKey: key.secret }, 'iam')
    const attach = async (arn: string): Promise<Response> => await h(await helpdesk.sign('http://node/', { method: 'POST', headers: form, body: `Action=AttachUserPolicy&UserName=helpdesk&PolicyArn=${encodeURIComponent(arn)}&Version=2010-05-08` }))
    assert.equal((await attach('arn:aws:iam::aws:policy/readonly')).status, 200, 'another policy is given')
    // However the parameter names it: the condition sees the policy's own ARN.
    for (const arn of ['arn:aws:iam::aws:policy/consoleAdmin', 'consoleAdmin', 'arn:aws:iam::000000000000:policy/consoleAdmin', 'arn:aws:iam::aws:policy/x/consoleAdmin']) {
      assert.equal(await code(await attach(arn)), 'AccessDenied', arn)
    }
    assert.deepEqual(state.attached('user', 'helpdesk').map(a => a.policy).sort(), ['readonly'])
  })

  it('a hostile pattern of hundreds of stars is matched in linear time, not by backtracking', () => {
    const pattern = 'arn:aws:s3:::' + '*a'.repeat(300) + '*b'
    assert.equal(wildcardMatch(pattern, 'arn:aws:s3:::' + 'a'.repeat(2000)), false)
    assert.equal(wildcardMatch(pattern, 'arn:aws:s3:::' + 'a'.repeat(2000) + 'b'), true)
    assert.equal(wildcardMatch('a*b?c', 'aXXbYc'), true)
    assert.equal(wildcardMatch('a*b?c', 'aXXbc'), false)
    assert.equal(wildcardMatch('S3:Get*', 's3:getobject', true), true)
  })

  it('a session policy caps what a bucket policy grants the user; naming the account grants nothing by itself', () => {
    const bucket = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/webapp' }, Action: 's3:*', Resource: 'arn:aws:s3:::up/*' }] }), 'bucket')
    const session = parsePolicy(doc([{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::up/v1/*' }]), 'session')
    const req = (resource: string): Parameters<typeof evaluate>[1] => ({ caller: { kind: 'user', arn: 'arn:aws:iam::000000000000:user/webapp' }, action: 's3:GetObject', resource, context: {} })
    assert.equal(evaluate({ identity: [], bucket }, req('arn:aws:s3:::up/v2/x')), 'allow', 'the user itself')
    assert.equal(evaluate({ identity: [], bucket, session }, req('arn:aws:s3:::up/v2/x')), 'implicit-deny', 'its session, outside the session policy')
    assert.equal(evaluate({ identity: [], bucket, session }, req('arn:aws:s3:::up/v1/x')), 'allow')
    const account = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 's3:*', Resource: 'arn:aws:s3:::up/*' }] }), 'bucket')
    assert.equal(evaluate({ identity: [], bucket: account }, req('arn:aws:s3:::up/x')), 'implicit-deny', 'naming the account leaves it to identity policies')
  })

  it('condition keys are case-insensitive, and s3:x-amz-acl is there for the guardrail that denies public objects', async () => {
    const { h, admin } = await setup()
    const user = await userWith(admin, 'u', [
      { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::bkt/*' },
      { Effect: 'Deny', Action: 's3:PutObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:X-Amz-Acl': 'public-read' } } },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/secret/*', Condition: { StringEquals: { 'AWS:UserName': 'u' } } },
    ])
    assert.equal((await h(await user.sign('http://node/bkt/k', { method: 'PUT', body: 'x' }))).status, 200)
    assert.equal(await code(await h(await user.sign('http://node/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'public-read' } }))), 'AccessDenied')
    assert.equal((await h(await root.sign('http://node/bkt/secret/s', { method: 'PUT', body: 's' }))).status, 200)
    assert.equal(await code(await h(await user.sign('http://node/bkt/secret/s'))), 'AccessDenied')
  })

  it('s3:ExistingObjectTag is the object\'s tags: a Deny on a tag stops reading what has it, an Allow on a tag opens only what has it', async () => {
    const { h, admin } = await setup()
    const user = await userWith(admin, 'u', [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:GetObjectTagging', 's3:PutObjectTagging'], Resource: 'arn:aws:s3:::bkt/*' },
      { Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'secret' } } },
    ])
    assert.equal((await h(await root.sign('http://node/bkt/plain', { method: 'PUT', body: 'p' }))).status, 200)
    assert.equal((await h(await root.sign('http://node/bkt/secret', { method: 'PUT', body: 's', headers: { 'x-amz-tagging': 'class=secret' } }))).status, 200)
    assert.equal((await h(await user.sign('http://node/bkt/plain'))).status, 200)
    for (const [method, query] of [['GET', ''], ['HEAD', ''], ['GET', '?tagging']] as const) {
      assert.equal((await h(await user.sign(`http://node/bkt/secret${query}`, { method }))).status, 403, `${method} ${query}`)
    }
    // Nor copied away from them: the copy's source is judged with its tags (a copy with new tags would shed them).
    const copy = await h(await user.sign('http://node/bkt/mine', { method: 'PUT', headers: { 'x-amz-copy-source': '/bkt/secret', 'x-amz-tagging-directive': 'REPLACE' } }))
    assert.equal(copy.status, 403)
    assert.equal((await h(await root.sign('http://node/bkt/mine', { method: 'HEAD' }))).status, 404, 'no copy made')
    // Its tags changed by root: what the Deny named is gone, and the user reads it.
    const untag = '<Tagging><TagSet><Tag><Key>class</Key><Value>open</Value></Tag></TagSet></Tagging>'
    assert.equal((await h(await root.sign('http://node/bkt/secret?tagging', { method: 'PUT', body: untag }))).status, 200)
    assert.equal((await h(await user.sign('http://node/bkt/secret'))).status, 200)
    // A bucket policy that lets anyone read only what is tagged public.
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:ExistingObjectTag/access': 'public' } } }] })
    assert.equal((await h(await root.sign('http://node/bkt?policy', { method: 'PUT', body: policy }))).status, 204)
    assert.equal((await h(await root.sign('http://node/bkt/shown', { method: 'PUT', body: 'x', headers: { 'x-amz-tagging': 'access=public' } }))).status, 200)
    assert.equal((await h(new Request('http://node/bkt/shown'))).status, 200)
    assert.equal((await h(new Request('http://node/bkt/plain'))).status, 403)
    // A policy without a Version is taken as 2008-10-17, and kept with it written in (a release before refuses one without).
    const versionless = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/plain' }] })
    assert.equal((await h(await root.sign('http://node/bkt?policy', { method: 'PUT', body: versionless }))).status, 204)
    assert.equal(JSON.parse(await (await h(await root.sign('http://node/bkt?policy'))).text()).Version, '2008-10-17')
    assert.equal((await h(new Request('http://node/bkt/plain'))).status, 200)
  })

  it('a store whose tags are read apart is looked at when the caller may not read them, but not one that holds tags back unsaid (a tab\'s entries)', async () => {
    for (const holdsTagsBack of [false, true]) {
      const store = new MemoryStore()
      await store.createBucket('bkt')
      await store.putObject('bkt', 'gold', new Response('x').body!, { metadata: { user: {} }, tags: { tier: 'gold' } })
      // As a gateway or a tab with a user's keys: the tags themselves are refused; the HEAD shows none (a tab's entry of an
      // object its user may not read has had them taken out).
      Object.assign(store, {
        holdsTagsBack,
        objectTags: async () => { throw new S3Error('AccessDenied', 'may not read tags') },
        headObject: async (b: string, k: string) => ({ ...await MemoryStore.prototype.headObject.call(store, b, k), tags: {} }),
      })
      const state = new AccessState('n')
      const access = new AccessControl({ state, root: ROOT, tokens: new SessionTokens(await Keyring.create([Keyring.generateKey()], 't')) })
      const admin = new AccessAdmin(state, ROOT.accessKeyId)
      const user = await userWith(admin, 'acl-reader', [{ Effect: 'Allow', Action: 's3:GetObjectAcl', Resource: 'arn:aws:s3:::bkt/*' }])
      await state.commit([{ kind: 'bucket-policy', bucket: 'bkt', document: doc([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObjectAcl', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'gold' } } }]) }])
      const h = createS3Handler({ store, access })
      const res = await h(await user.sign('http://node/bkt/gold?acl'))
      // A store that says nothing of held-back tags is taken at its HEAD (a gateway's HEAD counts them); one that may hold them
      // back unsaid is not: the tags could not be read, so the request is refused rather than decided without them.
      assert.equal(res.status, holdsTagsBack ? 403 : 200, `holdsTagsBack ${String(holdsTagsBack)}`)
      // Nor for a read of the object, which otherwise looks at its HEAD first.
      await state.commit([{ kind: 'bucket-policy', bucket: 'bkt', document: doc([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'gold' } } }]) }])
      await admin.putInline('user', 'acl-reader', 'p', doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*' }]))
      const read = await h(await user.sign('http://node/bkt/gold'))
      assert.equal(read.status, holdsTagsBack ? 403 : 200, `a read, holdsTagsBack ${String(holdsTagsBack)}`)
    }
  })

  it('a look at an object\'s tags that fails fails the request: a Deny on a tag is never passed unread', async () => {
    const store = new MemoryStore()
    await store.createBucket('bkt')
    const state = new AccessState('n')
    const access = new AccessControl({ state, root: ROOT, tokens: new SessionTokens(await Keyring.create([Keyring.generateKey()], 't')) })
    const h = createS3Handler({ store, access })
    const admin = new AccessAdmin(state, ROOT.accessKeyId)
    const user = await userWith(admin, 'u', [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*' },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'secret' } } },
    ])
    assert.equal((await h(await root.sign('http://node/bkt/k', { method: 'PUT', body: 'x' }))).status, 200)
    assert.equal((await h(await user.sign('http://node/bkt/k'))).status, 200, 'the precondition: untagged, it is read')
    store.headObject = async () => { throw new S3Error('ServiceUnavailable', 'the owners could not be asked') }
    assert.equal((await h(await user.sign('http://node/bkt/k'))).status, 503)
  })

  it('a missing key is 404 only to a caller that may list it: to one that may only read, 403, so a read does not tell which keys exist', async () => {
    const { h, admin } = await setup()
    const reader = await userWith(admin, 'reader', [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*' }])
    const lister = await userWith(admin, 'lister', [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*' }, { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::bkt', Condition: { StringLike: { 's3:prefix': 'mine/*' } } }])
    assert.equal((await h(await root.sign('http://node/bkt/there', { method: 'PUT', body: 'x' }))).status, 200)
    assert.equal((await h(await reader.sign('http://node/bkt/there'))).status, 200, 'the precondition: it may read what exists')
    for (const [method, query] of [['GET', ''], ['HEAD', ''], ['GET', '?tagging'], ['GET', '?acl']] as const) {
      assert.equal((await h(await reader.sign(`http://node/bkt/missing${query}`, { method }))).status, 403, `${method} ${query}`)
      assert.equal((await h(await root.sign(`http://node/bkt/missing${query}`, { method }))).status, 404, `${method} ${query} by root`)
    }
    assert.equal((await h(await lister.sign('http://node/bkt/mine/missing'))).status, 404, 'listing allowed for the key as a prefix')
    assert.equal((await h(await lister.sign('http://node/bkt/other/missing'))).status, 403)
  })

  it('s3:authType and s3:signatureversion are the verified signature\'s: an anonymous request that names a signature in its query is no signed one', async () => {
    const { h, admin } = await setup()
    assert.equal((await h(await root.sign('http://node/bkt/pub.txt', { method: 'PUT', body: 'public', headers: { 'x-amz-acl': 'public-read' } }))).status, 200)
    const policy = doc([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringNotEquals: { 's3:signatureversion': 'AWS4-HMAC-SHA256' } } }])
    assert.equal((await h(await root.sign('http://node/bkt?policy', { method: 'PUT', body: policy }))).status, 204)
    assert.equal(await code(await h(new Request('http://node/bkt/pub.txt'))), 'AccessDenied', 'the precondition: unsigned reads are denied')
    for (const forged of ['X-Amz-Signature=x', 'Signature=x']) {
      assert.equal(await code(await h(new Request(`http://node/bkt/pub.txt?${forged}`))), 'AccessDenied', forged)
    }
    // Root passes bucket policies: a user's signatures show the keys are there.
    const user = await userWith(admin, 'reader', [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::bkt/*' }])
    assert.equal((await h(await user.sign('http://node/bkt/pub.txt', { aws: { signQuery: true } }))).status, 200, 'a URL signed with SigV4 reads it')
    assert.equal((await h(await user.sign('http://node/bkt/pub.txt'))).status, 200, 'and a header signed with it')
    // Each key of a multi-object delete is checked with them too (a Deny on any other signature blocked every one).
    const del = doc([{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringNotEquals: { 's3:authType': 'REST-HEADER' } } }])
    assert.equal((await h(await root.sign('http://node/bkt?policy', { method: 'PUT', body: del }))).status, 204)
    const deleted = await (await h(await user.sign('http://node/bkt?delete', { method: 'POST', body: '<Delete><Object><Key>pub.txt</Key></Object></Delete>' }))).text()
    assert.match(deleted, /<Deleted><Key>pub.txt<\/Key>/)
  })

  it('an ACL set with the id of an older version is refused: ACLs are kept per key, and it would open the current version', async () => {
    const { h } = await setup()
    assert.equal((await h(await root.sign('http://node/bkt?versioning', { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' }))).status, 200)
    const v1 = (await h(await root.sign('http://node/bkt/doc', { method: 'PUT', body: 'old' }))).headers.get('x-amz-version-id')!
    const v2 = (await h(await root.sign('http://node/bkt/doc', { method: 'PUT', body: 'current' }))).headers.get('x-amz-version-id')!
    assert.ok(v1 !== v2)
    assert.equal(await code(await h(await root.sign(`http://node/bkt/doc?acl&versionId=${v1}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } }))), 'NotImplemented')
    assert.equal((await h(new Request('http://node/bkt/doc'))).status, 403, 'the current version stays private')
    assert.equal((await h(await root.sign(`http://node/bkt/doc?acl&versionId=${v2}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } }))).status, 200, 'the current version\'s id is taken')
    assert.equal(await (await h(new Request('http://node/bkt/doc'))).text(), 'current')
  })

  it('PutObjectTagging gives policies the tags its body sets (s3:RequestObjectTag, s3:RequestObjectTagKeys): a Deny on a tag key holds, an Allow on a value opens', async () => {
    const { h, admin } = await setup()
    assert.equal((await h(await root.sign('http://node/bkt/doc', { method: 'PUT', body: 'x' }))).status, 200)
    const user = await userWith(admin, 'tagger', [
      { Effect: 'Allow', Action: 's3:PutObjectTagging', Resource: 'arn:aws:s3:::bkt/*', Condition: { StringEquals: { 's3:RequestObjectTag/Project': 'blue' } } },
      { Effect: 'Deny', Action: 's3:PutObjectTagging', Resource: 'arn:aws:s3:::bkt/*', Condition: { 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['Owner'] } } },
    ])
    const tagging = (tags: Record<string, string>): string => `<Tagging><TagSet>${Object.entries(tags).map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`
    const put = async (tags: Record<string, string>): Promise<Response> => await h(await user.sign('http://node/bkt/doc?tagging', { method: 'PUT', body: tagging(tags) }))
    assert.equal((await put({ Project: 'blue' })).status, 200, 'the Allow on the value opens')
    assert.equal(await code(await put({ Project: 'red' })), 'AccessDenied')
    assert.equal(await code(await put({ Project: 'blue', Owner: 'mallory' })), 'AccessDenied', 'the Deny on the key holds')
    const kept = await (await h(await root.sign('http://node/bkt/doc?tagging'))).text()
    assert.match(kept, /<Key>Project<\/Key><Value>blue<\/Value>/)
    assert.doesNotMatch(kept, /Owner|red/)
  })

  it('anonymous requests may not set response-* headers (a public object cannot be made to answer as HTML)', async () => {
    const { h } = await setup()
    assert.equal((await h(await root.sign('http://node/bkt/page.txt', { method: 'PUT', body: '<script>1</script>', headers: { 'x-amz-acl': 'public-read' } }))).status, 200)
    assert.equal((await h(new Request('http://node/bkt/page.txt'))).status, 200, 'precondition: public')
    assert.equal(await code(await h(new Request('http://node/bkt/page.txt?response-content-type=text/html'))), 'InvalidRequest')
  })

  it('on an origin that holds secrets, objects are served nosniff and sandboxed unless inert', async () => {
    const { h } = await setup({ sandboxObjects: true })
    await h(await root.sign('http://node/bkt/x.html', { method: 'PUT', body: '<script>1</script>', headers: { 'content-type': 'text/html' } }))
    await h(await root.sign('http://node/bkt/x.png', { method: 'PUT', body: 'png', headers: { 'content-type': 'image/png' } }))
    const html = await h(await root.sign('http://node/bkt/x.html'))
    assert.equal(html.headers.get('content-security-policy'), 'sandbox')
    assert.equal(html.headers.get('x-content-type-options'), 'nosniff')
    const png = await h(await root.sign('http://node/bkt/x.png'))
    assert.equal(png.headers.get('content-security-policy'), null)
    assert.equal(png.headers.get('x-content-type-options'), 'nosniff')
    // A list of types is read by browsers as its last: stored, or asked for by response-content-type, it is sandboxed.
    await h(await root.sign('http://node/bkt/x.txt', { method: 'PUT', body: '<script>1</script>', headers: { 'content-type': 'text/plain;,text/html' } }))
    const listed = await h(await root.sign('http://node/bkt/x.txt'))
    assert.equal(listed.headers.get('content-type'), 'text/plain;,text/html', 'the precondition: the list is served as stored')
    assert.equal(listed.headers.get('content-security-policy'), 'sandbox')
    const overridden = await h(await root.sign(`http://node/bkt/x.png?response-content-type=${encodeURIComponent('image/png, text/html')}`))
    assert.equal(overridden.headers.get('content-type'), 'image/png, text/html')
    assert.equal(overridden.headers.get('content-security-policy'), 'sandbox')
  })

  it('a multipart upload\'s ACL applies when it completes, and a completed upload without one is private', async () => {
    const { h } = await setup()
    const anonymous = async (): Promise<number> => (await h(new Request('http://node/bkt/big'))).status
    await h(await root.sign('http://node/bkt/big', { method: 'PUT', body: 'old', headers: { 'x-amz-acl': 'public-read' } }))
    assert.equal(await anonymous(), 200, 'precondition: the old object is public')
    const upload = async (acl?: string): Promise<void> => {
      const created = await h(await root.sign('http://node/bkt/big?uploads', { method: 'POST', ...(acl === undefined ? {} : { headers: { 'x-amz-acl': acl } }) }))
      const id = /<UploadId>([^<]+)/.exec(await created.text())![1]!
      const part = await h(await root.sign(`http://node/bkt/big?partNumber=1&uploadId=${id}`, { method: 'PUT', body: 'new' }))
      const etag = part.headers.get('etag')!
      const done = await h(await root.sign(`http://node/bkt/big?uploadId=${id}`, { method: 'POST', body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>` }))
      assert.equal(done.status, 200, await done.clone().text())
    }
    await upload()
    assert.equal(await anonymous(), 403, 'replaced by a private upload, the key is private')
    const created = await h(await root.sign('http://node/bkt/big?uploads', { method: 'POST', headers: { 'x-amz-acl': 'public-read' } }))
    assert.equal(created.status, 200)
    assert.equal(await anonymous(), 403, 'an upload begun public does not open the object it has not replaced yet')
    await upload('public-read')
    assert.equal(await anonymous(), 200)
  })

  it('an object\'s public-read-write lets anyone read it, not overwrite or delete it', async () => {
    const { h } = await setup()
    await h(await root.sign('http://node/bkt/o', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'public-read-write' } }))
    assert.equal((await h(new Request('http://node/bkt/o'))).status, 200)
    assert.equal((await h(new Request('http://node/bkt/o', { method: 'PUT', body: 'y' }))).status, 403)
    assert.equal((await h(new Request('http://node/bkt/o', { method: 'DELETE' }))).status, 403)
  })

  it('the canned ACLs that give only the owner\'s rights (bucket-owner-full-control and the like) are taken as private, as a write without one, also by a read-only copy', async () => {
    const { h } = await setup()
    assert.equal((await h(await root.sign('http://node/bkt/o', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'public-read' } }))).status, 200)
    assert.equal((await h(new Request('http://node/bkt/o'))).status, 200, 'precondition: public')
    for (const acl of ['bucket-owner-full-control', 'bucket-owner-read', 'aws-exec-read']) {
      const put = await h(await root.sign('http://node/bkt/o', { method: 'PUT', body: 'y', headers: { 'x-amz-acl': acl } }))
      assert.equal(put.status, 200, `${acl}: ${await put.text()}`)
      assert.equal((await h(new Request('http://node/bkt/o'))).status, 403, `${acl} leaves the object private`)
      const grants = (await (await h(await root.sign('http://node/bkt/o?acl'))).text()).match(/<Grant>/g) ?? []
      assert.equal(grants.length, 1, 'the owner\'s FULL_CONTROL alone')
    }
    assert.equal((await h(await root.sign('http://node/bkt?acl', { method: 'PUT', headers: { 'x-amz-acl': 'log-delivery-write' } }))).status, 200)
    assert.equal(await code(await h(await root.sign('http://node/bkt/o', { method: 'PUT', body: 'z', headers: { 'x-amz-acl': 'everyone-please' } }))), 'InvalidArgument')
    const edgeStore = new MemoryStore()
    await edgeStore.createBucket('bkt')
    const edge = createS3Handler({ store: edgeStore, access: new AccessControl({ state: new AccessState('edge', undefined, true), root: ROOT }), serveAccessApi: false })
    assert.equal((await edge(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'bucket-owner-full-control' } }))).status, 200)
    // A write that asks for the owner's rights alone passes on (the node resets the key to private as it stores it)...
    assert.equal((await edge(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'private' } }))).status, 200)
    assert.equal((await edge(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-grant-full-control': 'id="s3mesh"' } }))).status, 200)
    // ...but changing an ACL there, even to private, is refused: the edge would answer it and change nothing.
    for (const headers of [{ 'x-amz-acl': 'private' }, { 'x-amz-grant-full-control': 'id="s3mesh"' }, { 'x-amz-acl': 'public-read' }] as Array<Record<string, string>>) {
      assert.equal(await code(await edge(await root.sign('http://edge/bkt/k?acl', { method: 'PUT', headers }))), 'NotImplemented', JSON.stringify(headers))
    }
    assert.equal(await code(await edge(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'public-read' } }))), 'NotImplemented')
  })

  it('a secret with a NUL (which peers would refuse) is refused, and nothing is kept', async () => {
    const { admin, state } = await setup()
    await admin.createUser('u')
    await assert.rejects(admin.createAccessKey('u', { secret: 'aaaa\u0000aaaa' }), /printable ASCII/)
    assert.equal(state.keysOf('u').length, 0)
    await assert.rejects(state.commit([{ kind: 'user', name: 'x\u0000', id: 'AIDA', enabled: true, created: 0 }]), /peers would accept/)
  })

  it('STS sessions end with the key that asked for them, and do not pass to a user made again under the name', async () => {
    const { h, admin, access } = await setup()
    const user = await userWith(admin, 'web', [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::bkt/*' }])
    const key = admin.state.keysOf('web')[0]!
    const assume = async (): Promise<ReturnType<typeof s3Signer>> => {
      const res = await h(await s3Signer({ accessKeyId: key.id, secretAccessKey: key.secret }, 'sts').sign('http://node/', { method: 'POST', headers: form, body: 'Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s&Version=2011-06-15' }))
      const xml = await res.text()
      assert.equal(res.status, 200, xml)
      return s3Signer({ accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]!, sessionToken: /<SessionToken>([^<]+)/.exec(xml)![1]! })
    }
    const session = await assume()
    assert.equal((await h(await session.sign('http://node/bkt/k', { method: 'PUT', body: 'x' }))).status, 200)
    await admin.updateAccessKey(key.id, 'Inactive')
    assert.equal(await code(await h(await session.sign('http://node/bkt/k'))), 'InvalidToken', 'the key that asked is inactive')
    await admin.updateAccessKey(key.id, 'Active')
    const second = await assume()
    await admin.deleteUser('web', true)
    await admin.createUser('web')
    await admin.attach('user', 'web', 'readwrite')
    assert.equal(await code(await h(await second.sign('http://node/bkt/k'))), 'InvalidToken', 'a new user under the name is not the one it was issued for')
    assert.ok(user !== undefined && access.stats.denied >= 0)
  })

  it('a read-only copy of the state (an edge worker\'s) refuses changes instead of keeping them to itself', async () => {
    const store = new MemoryStore()
    await store.createBucket('bkt')
    const state = new AccessState('edge', undefined, true)
    const h = createS3Handler({ store, access: new AccessControl({ state, root: ROOT }), serveAccessApi: false })
    assert.equal(await code(await h(await root.sign('http://edge/bkt?policy', { method: 'PUT', body: doc([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/*' }]) }))), 'NotImplemented')
    assert.equal(await code(await h(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x', headers: { 'x-amz-acl': 'public-read' } }))), 'NotImplemented')
    assert.equal((await h(await root.sign('http://edge/bkt/k', { method: 'PUT', body: 'x' }))).status, 200, 'a plain write still works')
    assert.equal((await h(await root.sign('http://edge/bkt/k'))).status, 200)
  })
})
