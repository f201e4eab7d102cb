/**
 * Admissions: what a durable member signs for a tab, and what every peer
 * checks before it serves the tab (core/access/admission.ts, core/mesh/guest-gate.ts).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decode, encode } from 'cborg'
import { AccessControl } from '../../src/core/access/access-control.js'
import { AccessState } from '../../src/core/access/access-state.js'
import { GuestRefusedError, issueAdmission, tabAccess, AdmissionVerifier } from '../../src/core/access/admission.js'
import { GuestGate } from '../../src/core/mesh/guest-gate.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'

const ROOT = { accessKeyId: 'root-key', secretAccessKey: 'root-secret-123' }

async function world (): Promise<{ access: AccessControl, state: AccessState, issuer: string, sign: (d: Uint8Array) => Promise<Uint8Array>, tab: string, other: string }> {
  const state = new AccessState('n1')
  const access = new AccessControl({ state, root: ROOT })
  await state.commit([
    { kind: 'user', name: 'alice', id: 'AIDAALICE', enabled: true, created: 1 },
    { kind: 'key', id: 'AKIAALICE', user: 'alice', secret: 'alice-secret-123', active: true, created: 1 },
    { kind: 'inline', owner: 'user', name: 'alice', policy: 'p', document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::docs', 'arn:aws:s3:::docs/*'] }] }) },
    { kind: 'bucket-policy', bucket: 'docs', document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/hidden/*' }] }) },
  ])
  const key = await generateKeyPair('Ed25519')
  return {
    access, state, issuer: peerIdFromPrivateKey(key).toString(), sign: async d => await key.sign(d),
    tab: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
    other: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
  }
}

async function alice (w: Awaited<ReturnType<typeof world>>, now = Date.now(), lifetimeMs = 60_000): Promise<Uint8Array> {
  const { principal } = await w.access.resolve('AKIAALICE')
  return (await issueAdmission({ access: w.access, principal, peer: w.tab, issuer: w.issuer, sign: w.sign, cluster: 'c', now, lifetimeMs })).bytes
}

async function refusal (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (err) {
    assert.ok(err instanceof GuestRefusedError, String(err))
    return err.reason
  }
}

describe('admissions', () => {
  it('carry the records that decide the user\'s rights, and no secret', async () => {
    const w = await world()
    const bytes = await alice(w)
    const text = new TextDecoder().decode(bytes)
    assert.ok(!text.includes('alice-secret-123') && !text.includes('root-secret-123'), 'no secret in it')
    const v = new AdmissionVerifier({ cluster: 'c', isIssuer: id => id === w.issuer })
    const a = await v.verify(bytes, w.tab)
    assert.equal(a.principal.user, 'alice')
    assert.deepEqual(a.records.map(e => e.record!.kind).sort(), ['bucket-policy', 'inline', 'user'])
  })

  it('are refused from another peer, for another cluster, from an unknown issuer, altered, forged, expired or malformed', async () => {
    const w = await world()
    const bytes = await alice(w)
    const verifier = (o: { cluster?: string, issuer?: boolean, now?: number } = {}): AdmissionVerifier =>
      new AdmissionVerifier({ cluster: o.cluster ?? 'c', isIssuer: id => (o.issuer ?? true) && id === w.issuer, ...(o.now === undefined ? {} : { now: () => o.now! }) })
    assert.equal(await refusal(verifier().verify(bytes, w.tab)), 'accepted')
    assert.equal(await refusal(verifier().verify(bytes, w.other)), 'wrong-peer')
    assert.equal(await refusal(verifier({ cluster: 'd' }).verify(bytes, w.tab)), 'other-cluster')
    assert.equal(await refusal(verifier({ issuer: false }).verify(bytes, w.tab)), 'unknown-issuer')
    assert.equal(await refusal(verifier({ now: Date.now() + 61_000 }).verify(bytes, w.tab)), 'expired')
    assert.equal(await refusal(verifier().verify(new Uint8Array([1, 2, 3]), w.tab)), 'malformed')
    assert.equal(await refusal(verifier().verify(undefined, w.tab)), 'malformed')
    // The body altered (the peer id swapped for the thief's), the signature kept.
    const env = decode(bytes) as { body: Uint8Array, sig: Uint8Array, issuer: string }
    const body = decode(env.body) as Record<string, unknown>
    const altered = encode({ body: encode({ ...body, peer: w.other }), sig: env.sig, issuer: env.issuer })
    assert.equal(await refusal(verifier().verify(altered, w.other)), 'bad-signature')
    // Signed by someone else than the issuer it names.
    const mine = await generateKeyPair('Ed25519')
    assert.equal(await refusal(verifier().verify(encode({ body: env.body, sig: await mine.sign(env.body), issuer: env.issuer }), w.tab)), 'bad-signature')
    // Or naming itself as the issuer: not a durable member.
    const self = peerIdFromPrivateKey(mine).toString()
    assert.equal(await refusal(verifier().verify(encode({ body: encode({ ...body, issuer: self }), sig: await mine.sign(env.body), issuer: self }), w.tab)), 'unknown-issuer')
  })

  it('are decided live on a member: a disabled user, a deactivated key, a user made again are refused at once', async () => {
    const w = await world()
    const bytes = await alice(w)
    const admitted: string[] = []
    const gate = new GuestGate({ cluster: 'c', live: w.access, isIssuer: id => id === w.issuer, onAdmitted: peer => { admitted.push(peer) } })
    const g = await gate.who(w.tab, bytes)
    assert.deepEqual(admitted, [w.tab], 'the relay hears of the guest whose admission checked out')
    assert.ok(gate.allows(g, 's3:GetObject', 'docs', 'a.txt'))
    assert.ok(!gate.allows(g, 's3:GetObject', 'docs', 'hidden/a.txt'), 'the bucket policy\'s Deny')
    assert.ok(!gate.allows(g, 's3:PutObject', 'docs', 'a.txt'))
    assert.ok(gate.mayList(g, 'docs', 'a.txt') && !gate.mayList(g, 'other', 'x'))
    await w.state.commit([{ kind: 'key', id: 'AKIAALICE', user: 'alice', secret: 'alice-secret-123', active: false, created: 1 }])
    assert.equal(await refusal(gate.who(w.tab, bytes)), 'revoked')
    await w.state.commit([{ kind: 'key', id: 'AKIAALICE', user: 'alice', secret: 'alice-secret-123', active: true, created: 1 }])
    assert.equal(await refusal(gate.who(w.tab, bytes)), 'accepted')
    await w.state.commit([{ kind: 'user', name: 'alice', id: 'AIDAALICE', enabled: false, created: 1 }])
    assert.equal(await refusal(gate.who(w.tab, bytes)), 'revoked')
    await w.state.commit([{ kind: 'user', name: 'alice', id: 'AIDAOTHER', enabled: true, created: 2 }])
    assert.equal(await refusal(gate.who(w.tab, bytes)), 'revoked', 'a user deleted and made again under the name is not the one admitted')
    assert.equal(gate.refused.revoked, 3)
    assert.equal(await refusal(gate.who(w.other, bytes)), 'wrong-peer')
    assert.deepEqual(admitted, [w.tab, w.tab], 'and of no guest refused (revoked, or showing another\'s admission)')
  })

  it('decide a guest\'s read with the object\'s tags: a Deny on s3:ExistingObjectTag holds over the guest protocol too', async () => {
    const w = await world()
    await w.state.commit([{ kind: 'bucket-policy', bucket: 'docs', document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/*', Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'secret' } } }] }) }])
    const bytes = await alice(w)
    const object = (tags: Record<string, string>): CatalogEntry => ({ bucket: 'docs', key: 'a.txt', version: { ms: 1, counter: 0, node: 'n' }, deleted: false, holders: [], object: { size: 1, etag: 'e', sha256: 'a'.repeat(64), lastModified: 1, metadata: { user: {} }, tags } })
    for (const gate of [new GuestGate({ cluster: 'c', live: w.access, isIssuer: id => id === w.issuer }), new GuestGate({ cluster: 'c', isIssuer: id => id === w.issuer })]) {
      const g = await gate.who(w.tab, bytes)
      assert.ok(gate.mayRead(g, 'docs', 'a.txt', object({})), 'the precondition: alice reads docs/*')
      assert.ok(!gate.mayRead(g, 'docs', 'a.txt', object({ class: 'secret' })))
      await gate.checkGet(g, 'docs', 'a.txt', () => object({ class: 'open' }))
      await assert.rejects(gate.checkGet(g, 'docs', 'a.txt', () => object({ class: 'secret' })), (err: unknown) => err instanceof GuestRefusedError && err.reason === 'denied')
      await assert.rejects(gate.checkGet(g, 'docs', 'a.txt', async () => { throw new Error('the owners could not be asked') }), /could not be asked/, 'a look that fails refuses')
      // A tab, whose catalog may hold an entry its node stripped of tags, serves nothing a tag decides.
      await assert.rejects(gate.checkGet(g, 'docs', 'a.txt', 'unknown'), (err: unknown) => err instanceof GuestRefusedError && err.reason === 'denied')
    }
    // A condition on tags for another action (deletes) says nothing of reads: a tab serves them.
    const deletes = await world()
    await deletes.state.commit([{ kind: 'bucket-policy', bucket: 'docs', document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::docs/*', Condition: { StringEquals: { 's3:ExistingObjectTag/retain': 'yes' } } }] }) }])
    const deletesGate = new GuestGate({ cluster: 'c', isIssuer: id => id === deletes.issuer })
    await deletesGate.checkGet(await deletesGate.who(deletes.tab, await alice(deletes)), 'docs', 'a.txt', 'unknown')
    // Without a policy on tags, a tab serves what the asker may read.
    const plain = await world()
    const tabGate = new GuestGate({ cluster: 'c', isIssuer: id => id === plain.issuer })
    await tabGate.checkGet(await tabGate.who(plain.tab, await alice(plain)), 'docs', 'a.txt', 'unknown')
  })

  it('decide in a tab as the node decides, from the records they carry', async () => {
    const w = await world()
    const bytes = await alice(w)
    const tabGate = new GuestGate({ cluster: 'c', isIssuer: id => id === w.issuer })
    const g = await tabGate.who(w.tab, bytes)
    const own = tabAccess(bytes, { accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret-123' })
    const node = (await w.access.resolve('AKIAALICE')).principal
    for (const [action, resource] of [['s3:GetObject', 'arn:aws:s3:::docs/a.txt'], ['s3:GetObject', 'arn:aws:s3:::docs/hidden/a.txt'], ['s3:PutObject', 'arn:aws:s3:::docs/a.txt'], ['s3:ListBucket', 'arn:aws:s3:::docs'], ['s3:GetObject', 'arn:aws:s3:::other/a']] as const) {
      const expected = w.access.decide(node, { action, resource, context: {} })
      assert.equal(g.access.decide(g.principal, { action, resource, context: {} }), expected, `${action} ${resource}: another tab decides as the node`)
      assert.equal(own.access.decide(own.principal, { action, resource, context: {} }), expected, `${action} ${resource}: the tab's own page decides as the node`)
    }
    // The page's own key resolves (a request it signs); no other key does.
    assert.equal((await own.access.resolve('AKIAALICE')).secret, 'alice-secret-123')
    await assert.rejects(own.access.resolve('root-key'))
  })
})
