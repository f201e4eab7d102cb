/** The access layer below the HTTP APIs: replicated records, IAM's rules, credentials and decisions. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AccessAdmin, IAM_LIMITS } from '../../src/core/access/access-admin.js'
import { AccessControl, type Principal } from '../../src/core/access/access-control.js'
import { asEntry, idOf, recordId, type AccessEntry } from '../../src/core/access/access-records.js'
import { AccessState } from '../../src/core/access/access-state.js'
import { IamError } from '../../src/core/access/iam-error.js'
import { SessionTokens, type Sealer } from '../../src/core/access/session-token.js'
import { S3Error } from '../../src/core/errors.js'
import { HybridClock } from '../../src/core/mesh/hlc.js'
import { Keyring } from '../../src/core/wire/keyring.js'

const ROOT = { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret-1234' }
const doc = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements })
const ctx = { 'aws:SecureTransport': 'false' }

async function sealer (): Promise<Sealer> {
  return await Keyring.create([Keyring.generateKey()], 'test')
}

async function setup (now = () => Date.now()): Promise<{ state: AccessState, admin: AccessAdmin, access: AccessControl, tokens: SessionTokens }> {
  const state = new AccessState('n1', new HybridClock(now))
  const tokens = new SessionTokens(await sealer())
  return { state, admin: new AccessAdmin(state, ROOT.accessKeyId, now), access: new AccessControl({ state, root: ROOT, tokens, now }), tokens }
}

async function rejects (p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<void> {
  await assert.rejects(async () => { await (typeof p === 'function' ? p() : p) }, (err: unknown) => {
    assert.ok(err instanceof IamError || err instanceof S3Error, String(err))
    assert.equal(err.code, code)
    if (message !== undefined) assert.match(err.message, message)
    return true
  })
}

describe('access state: records merged by last writer', () => {
  it('a later version wins, an older copy is ignored, a tombstone keeps a deleted record deleted', async () => {
    let t = 1000
    const a = new AccessState('a', new HybridClock(() => t))
    const b = new AccessState('b', new HybridClock(() => t))
    await a.commit([{ kind: 'user', name: 'u', id: 'AIDA1', enabled: true, created: 1 }])
    const created = a.all()
    t = 2000
    await a.commit([], [idOf('user', 'u')])
    const deleted = a.all()
    // b hears of the deletion first, then the (older) creation: it stays deleted.
    assert.equal((await b.merge(deleted)).length, 1)
    assert.equal((await b.merge(created)).length, 0, 'an older version is not merged')
    assert.equal(b.user('u'), undefined)
    assert.equal(a.digest(), b.digest())
  })

  it('two nodes attaching different policies to one user at once both keep both', async () => {
    const a = new AccessState('a')
    const b = new AccessState('b')
    await a.commit([{ kind: 'attach', owner: 'user', name: 'u', policy: 'readonly' }])
    await b.commit([{ kind: 'attach', owner: 'user', name: 'u', policy: 'writeonly' }])
    await a.merge(b.all())
    await b.merge(a.all())
    assert.deepEqual(a.attached('user', 'u').map(x => x.policy).sort(), ['readonly', 'writeonly'])
    assert.equal(a.digest(), b.digest())
  })

  it('tells listeners of local and merged changes, local ones before commit resolves', async () => {
    const a = new AccessState('a')
    const seen: Array<[number, boolean]> = []
    a.onChange(async (entries, local) => { await new Promise(resolve => setTimeout(resolve, 5)); seen.push([entries.length, local]) })
    await a.commit([{ kind: 'group', name: 'g', id: 'AGPA', created: 0 }])
    assert.deepEqual(seen, [[1, true]], 'the listener (a node\'s save) finished before commit resolved')
    const b = new AccessState('b')
    await b.commit([{ kind: 'group', name: 'h', id: 'AGPB', created: 0 }])
    await a.merge(b.all())
    assert.deepEqual(seen, [[1, true], [1, false]])
  })

  it('refuses entries from a peer that are malformed or filed under another record\'s id', () => {
    const user = { kind: 'user', name: 'u', id: 'AIDA', enabled: true, created: 0 } as const
    const version = { ms: 1, counter: 0, node: 'x' }
    assert.ok(asEntry({ id: recordId(user), version, record: user }))
    assert.equal(asEntry({ id: idOf('user', 'admin'), version, record: user }), undefined, 'filed under another name')
    assert.equal(asEntry({ id: recordId(user), version, record: { ...user, extra: 1 } }), undefined, 'an extra field')
    assert.equal(asEntry({ id: recordId(user), version, record: { ...user, enabled: 'yes' } }), undefined, 'a field of the wrong type')
    assert.equal(asEntry({ id: 'nonsense\u0000x', version }), undefined, 'an unknown kind')
    assert.equal(asEntry({ id: idOf('bucket-acl', 'b'), version, record: { kind: 'bucket-acl', bucket: 'b', acl: 'everyone-write' } }), undefined, 'an ACL s3mesh does not know')
    assert.equal(asEntry({ id: recordId(user), version: { ms: 1.5, counter: 0, node: 'x' }, record: user }), undefined, 'a fractional clock')
  })

  it('refuses a version from a clock far ahead (a peer cannot pin a record forever)', async () => {
    const a = new AccessState('a')
    const user = { kind: 'user', name: 'u', id: 'AIDA', enabled: true, created: 0 } as const
    const ahead: AccessEntry = { id: recordId(user), version: { ms: Date.now() + 3600_000, counter: 0, node: 'evil' }, record: user }
    assert.equal((await a.merge([ahead])).length, 0)
  })
})

describe('access admin: IAM\'s rules', () => {
  it('names, duplicates, limits and conflicts are refused with IAM\'s codes, and change nothing', async () => {
    const { admin, state } = await setup()
    await rejects(admin.createUser('bad name'), 'ValidationError')
    await admin.createUser('u')
    await rejects(admin.createUser('u'), 'EntityAlreadyExists')
    await admin.createAccessKey('u')
    await admin.createAccessKey('u')
    await rejects(admin.createAccessKey('u'), 'LimitExceeded', new RegExp(`${IAM_LIMITS.keysPerUser} access keys`))
    await rejects(admin.createAccessKey('nobody'), 'NoSuchEntity')
    await admin.createUser('v')
    await rejects(admin.createAccessKey('v', { id: ROOT.accessKeyId }), 'EntityAlreadyExists', /already in use/)
    await rejects(admin.createPolicy('p', doc([{ Effect: 'Allow', Action: 's3:GetObject' }])), 'MalformedPolicyDocument', /Statement 1: exactly one of Resource/)
    assert.equal(state.policy('p'), undefined, 'a refused policy is not half-made')
    await rejects(admin.createPolicy('readonly', doc([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }])), 'EntityAlreadyExists')
    await rejects(admin.deletePolicy('readwrite'), 'InvalidInput', /built-in/)
    await admin.createPolicy('p', doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }]))
    await admin.attach('user', 'u', 'arn:aws:iam::123456789012:policy/p')
    await rejects(admin.deletePolicy('p'), 'DeleteConflict', /attached to user u/)
    await rejects(admin.deleteUser('u'), 'DeleteConflict')
    await admin.deleteUser('u', true)
    assert.equal(state.keysOf('u').length, 0, 'force removes the keys with the user')
    assert.equal(state.attached('user', 'u').length, 0)
    await admin.deletePolicy('p')
  })
})

describe('access control: credentials', () => {
  it('resolves root and users\' keys, and refuses unknown, inactive and disabled ones', async () => {
    const { admin, access } = await setup()
    assert.equal((await access.resolve(ROOT.accessKeyId)).principal.kind, 'root')
    await rejects(access.resolve('NOPE'), 'InvalidAccessKeyId', /does not exist/)
    await admin.createUser('u')
    const key = await admin.createAccessKey('u')
    const { secret, principal } = await access.resolve(key.id)
    assert.equal(secret, key.secret)
    assert.equal(principal.kind === 'user' && principal.user.name, 'u')
    await admin.updateAccessKey(key.id, 'Inactive')
    await rejects(access.resolve(key.id), 'InvalidAccessKeyId', /not active/)
    await admin.updateAccessKey(key.id, 'Active')
    await admin.setUserEnabled('u', false)
    await rejects(access.resolve(key.id), 'InvalidAccessKeyId', /not active/)
  })

  it('session tokens: work until they expire, refuse tampering, another key, another mesh\'s key, a disabled user', async () => {
    let now = 1_000_000
    const { admin, access, tokens } = await setup(() => now)
    await admin.createUser('u')
    const token = await tokens.issue({ accessKeyId: 'ASIA1', secretAccessKey: 's3cret', user: 'u', expires: now + 900_000 })
    assert.equal((await access.resolve('ASIA1', token)).secret, 's3cret')
    await rejects(access.resolve('ASIA2', token), 'InvalidToken', /not issued for this access key/)
    await rejects(access.resolve('ASIA1', token.slice(0, -3) + (token.endsWith('A') ? 'BBB' : 'AAA')), 'InvalidToken')
    const foreign = await new SessionTokens(await sealer()).issue({ accessKeyId: 'ASIA1', secretAccessKey: 'x', user: 'u', expires: now + 1000 })
    await rejects(access.resolve('ASIA1', foreign), 'InvalidToken')
    await admin.setUserEnabled('u', false)
    await rejects(access.resolve('ASIA1', token), 'InvalidToken', /disabled/)
    await admin.setUserEnabled('u', true)
    now += 900_000
    await rejects(access.resolve('ASIA1', token), 'ExpiredToken')
  })
})

describe('access control: decisions', () => {
  const get = (resource: string): { action: string, resource: string, context: typeof ctx } => ({ action: 's3:GetObject', resource, context: ctx })
  const put = (resource: string): { action: string, resource: string, context: typeof ctx } => ({ action: 's3:PutObject', resource, context: ctx })

  it('a user\'s policies, its groups\' (attached and inline), an explicit deny in a group over the user\'s allow', async () => {
    const { admin, access, state } = await setup()
    await admin.createUser('u')
    const p = (): Principal => ({ kind: 'user', accessKeyId: 'k', user: state.user('u')! })
    assert.equal(access.decide(p(), get('arn:aws:s3:::b/k')), 'implicit-deny')
    await admin.attach('user', 'u', 'readwrite')
    assert.equal(access.decide(p(), put('arn:aws:s3:::b/secret/k')), 'allow')
    await admin.createGroup('g')
    await admin.addUserToGroup('g', 'u')
    await admin.putInline('group', 'g', 'no-secrets', doc([{ Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::b/secret/*' }]))
    assert.equal(access.decide(p(), put('arn:aws:s3:::b/secret/k')), 'explicit-deny', 'the group\'s deny wins (cache refreshed on change)')
    assert.equal(access.decide(p(), put('arn:aws:s3:::b/open/k')), 'allow')
    await admin.removeUserFromGroup('g', 'u')
    assert.equal(access.decide(p(), put('arn:aws:s3:::b/secret/k')), 'allow')
  })

  it('bucket policies name users by ARN in any account; canned ACLs; an object ACL opens one object', async () => {
    const { admin, access, state } = await setup()
    await admin.createUser('u')
    const user: Principal = { kind: 'user', accessKeyId: 'k', user: state.user('u')! }
    const anonymous: Principal = { kind: 'anonymous' }
    await state.commit([{ kind: 'bucket-policy', bucket: 'b', document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::111122223333:user/u'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }) }])
    assert.equal(access.decide(user, get('arn:aws:s3:::b/k')), 'allow')
    assert.equal(access.decide(anonymous, get('arn:aws:s3:::b/k')), 'implicit-deny')
    await state.commit([{ kind: 'bucket-acl', bucket: 'c', acl: 'authenticated-read' }])
    assert.equal(access.decide(user, get('arn:aws:s3:::c/k')), 'allow')
    assert.equal(access.decide(anonymous, get('arn:aws:s3:::c/k')), 'implicit-deny')
    await state.commit([{ kind: 'bucket-acl', bucket: 'd', acl: 'public-read' }])
    assert.equal(access.decide(anonymous, get('arn:aws:s3:::d/k')), 'allow')
    assert.equal(access.decide(anonymous, put('arn:aws:s3:::d/k')), 'implicit-deny')
    await state.commit([{ kind: 'object-acl', bucket: 'e', key: 'a*b', acl: 'public-read' }])
    assert.equal(access.decide(anonymous, get('arn:aws:s3:::e/a*b')), 'allow')
    assert.equal(access.decide(anonymous, get('arn:aws:s3:::e/aXb')), 'implicit-deny', 'a * in the key is not a wildcard')
  })

  it('a root session is narrowed by its session policy; ListBuckets shows what a user\'s policies name', async () => {
    const { admin, access, state } = await setup()
    const root: Principal = { kind: 'root', accessKeyId: 'ASIA', session: { expires: Infinity, policy: access.parse(doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }]), 'session')! } }
    assert.equal(access.decide(root, get('arn:aws:s3:::b/k')), 'allow')
    assert.equal(access.decide(root, put('arn:aws:s3:::b/k')), 'implicit-deny')
    await admin.createUser('alice')
    await admin.putInline('user', 'alice', 'home', doc([{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::home-${aws:username}/*' }]))
    const alice: Principal = { kind: 'user', accessKeyId: 'k', user: state.user('alice')! }
    assert.equal(access.seesBucket(alice, 'home-alice', ctx), true)
    assert.equal(access.seesBucket(alice, 'home-bob', ctx), false)
    await admin.attach('user', 'alice', 'readonly')
    assert.equal(access.seesBucket(alice, 'home-bob', ctx), true, 'readonly has s3:ListAllMyBuckets')
  })
})
