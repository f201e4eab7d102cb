/**
 * ACL grants read from x-amz-grant-* headers and AccessControlPolicy bodies,
 * taken as the canned ACL they are (s3mesh keeps canned ACLs). End to end:
 * sdk.test.ts (the SDK's grants), s3cmd.test.ts (setacl).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ALL_USERS, AUTHENTICATED_USERS, cannedOfGrants, grantsOfHeaders, grantsOfPolicy } from '../../src/s3-shim/http/acl-grants.js'
import { parseXmlBody } from '../../src/s3-shim/xml.js'
import { isS3Error } from '../../src/core/errors.js'

const policy = (grants: string): ReturnType<typeof parseXmlBody> => parseXmlBody(new TextEncoder().encode(
  `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>s3mesh</ID></Owner><AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`), 'AccessControlPolicy')
const group = (uri: string, permission: string): string => `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${uri}</URI></Grantee><Permission>${permission}</Permission></Grant>`
const owner = '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>s3mesh</ID><DisplayName>s3mesh</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>'

describe('ACL grants', () => {
  it('reads header grantees: comma lists, quoted or not, any case of the kind', () => {
    const grants = grantsOfHeaders(new Headers({ 'x-amz-grant-read': `uri="${ALL_USERS}", id=s3mesh`, 'x-amz-grant-full-control': 'emailaddress="a@example.com"' }))
    assert.deepEqual(grants, [
      { permission: 'FULL_CONTROL', grantee: { email: 'a@example.com' } },
      { permission: 'READ', grantee: { uri: ALL_USERS } },
      { permission: 'READ', grantee: { id: 's3mesh' } },
    ])
    assert.deepEqual(grantsOfHeaders(new Headers({ 'x-amz-grant-read': 'emailAddress="a,b@example.com", uri=x' })), [{ permission: 'READ', grantee: { email: 'a,b@example.com' } }, { permission: 'READ', grantee: { uri: 'x' } }], 'a quoted value whole')
    for (const value of ['everyone', '', 'id="a" id="b"', 'id="a",,']) {
      assert.throws(() => grantsOfHeaders(new Headers({ 'x-amz-grant-read': value })), (e: unknown) => isS3Error(e, 'InvalidArgument'), JSON.stringify(value))
    }
  })

  it('takes the canned ACL grants are, the owner\'s own aside', () => {
    assert.equal(cannedOfGrants(grantsOfPolicy(policy(owner))), 'private')
    assert.equal(cannedOfGrants(grantsOfPolicy(policy(''))), 'private', 'an empty list')
    assert.equal(cannedOfGrants(grantsOfPolicy(policy(owner + group(ALL_USERS, 'READ')))), 'public-read')
    assert.equal(cannedOfGrants(grantsOfPolicy(policy(group(ALL_USERS, 'WRITE') + group(ALL_USERS, 'READ')))), 'public-read-write')
    assert.equal(cannedOfGrants(grantsOfPolicy(policy(owner + group(AUTHENTICATED_USERS, 'READ')))), 'authenticated-read')
  })

  it('refuses grants that are no canned ACL as NotImplemented, and a permission that is none as MalformedACLError', () => {
    const refused = (grants: string, code: string): void => { assert.throws(() => cannedOfGrants(grantsOfPolicy(policy(grants))), (e: unknown) => isS3Error(e, code as never), grants) }
    refused(owner + group(ALL_USERS, 'WRITE'), 'NotImplemented')
    refused(owner + group(ALL_USERS, 'READ_ACP'), 'NotImplemented')
    refused('<Grant><Grantee><ID>someone-else</ID></Grantee><Permission>READ</Permission></Grant>', 'NotImplemented')
    refused('<Grant><Grantee><EmailAddress>a@example.com</EmailAddress></Grantee><Permission>READ</Permission></Grant>', 'NotImplemented')
    refused(group(ALL_USERS, 'EVERYTHING'), 'MalformedACLError')
    refused('<Grant><Grantee></Grantee><Permission>READ</Permission></Grant>', 'MalformedACLError')
  })
})
