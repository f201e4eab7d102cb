import type { CannedAcl } from '../../core/access/access-records.js'
import { S3Error } from '../../core/errors.js'
import { OWNER } from '../owner.js'
import { childOf, elementsOf, textOf, type Parsed } from '../xml.js'

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'

/** One grant: a permission to a group (its URI), a user (its canonical id) or an e-mail address. */
export interface Grant {
  permission: string
  grantee: { uri: string } | { id: string } | { email: string }
}

const PERMISSIONS = new Set(['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'])

/** The x-amz-grant-* headers and the permission each grants. */
export const GRANT_HEADERS: Array<[string, string]> = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'], ['x-amz-grant-read', 'READ'], ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'], ['x-amz-grant-write-acp', 'WRITE_ACP'],
]

/** The group grants (URI, permission) each canned ACL is, beside the owner's FULL_CONTROL: how S3 reports it, and what grants are taken as it. */
export const CANNED_GRANTS: Record<CannedAcl, Array<[string, string]>> = {
  private: [],
  'public-read': [[ALL_USERS, 'READ']],
  'public-read-write': [[ALL_USERS, 'READ'], [ALL_USERS, 'WRITE']],
  'authenticated-read': [[AUTHENTICATED_USERS, 'READ']],
}

/** Whether the request names grants in x-amz-grant-* headers. */
export function hasGrantHeaders (headers: Headers): boolean {
  return GRANT_HEADERS.some(([name]) => headers.has(name))
}

/**
 * The grants of x-amz-grant-* headers: each a list of grantees separated by
 * commas, `uri="…"`, `id="…"` or `emailAddress="…"` (what `aws s3 cp
 * --grants` and boto3's Grant* parameters send).
 */
export function grantsOfHeaders (headers: Headers): Grant[] {
  const grants: Grant[] = []
  for (const [name, permission] of GRANT_HEADERS) {
    const value = headers.get(name)
    if (value === null) continue
    const bad = (): S3Error => new S3Error('InvalidArgument', `${name} takes grantees separated by commas, each uri="…", id="…" or emailAddress="…", not "${value}".`, { detail: { ArgumentName: name, ArgumentValue: value } })
    // One grantee after another, a quoted value whole (it may hold a comma).
    const grantee = /\s*(uri|id|emailaddress)\s*=\s*(?:"([^"]*)"|([^,"]*?))\s*(?:,|$)/iy
    let at = 0
    while (at < value.length) {
      grantee.lastIndex = at
      const m = grantee.exec(value)
      if (m === null || grantee.lastIndex === at) throw bad()
      at = grantee.lastIndex
      const kind = m[1]!.toLowerCase()
      const v = m[2] ?? m[3]!
      grants.push({ permission, grantee: kind === 'uri' ? { uri: v } : kind === 'id' ? { id: v } : { email: v } })
    }
    if (value.trim() === '') throw bad()
  }
  return grants
}

/** The grants of an AccessControlPolicy document (PUT ?acl's body, as s3cmd setacl sends it). */
export function grantsOfPolicy (policy: Parsed): Grant[] {
  const list = childOf(policy, 'AccessControlList')
  return (list === undefined ? [] : elementsOf(list, 'Grant')).map(g => {
    const permission = textOf(g, 'Permission') ?? ''
    const grantee = childOf(g, 'Grantee')
    const uri = grantee === undefined ? undefined : textOf(grantee, 'URI')
    const id = grantee === undefined ? undefined : textOf(grantee, 'ID')
    const email = grantee === undefined ? undefined : textOf(grantee, 'EmailAddress')
    if (uri !== undefined) return { permission, grantee: { uri: uri.trim() } }
    if (id !== undefined) return { permission, grantee: { id: id.trim() } }
    if (email !== undefined) return { permission, grantee: { email: email.trim() } }
    throw new S3Error('MalformedACLError', 'Each <Grant> needs a <Grantee> with a URI, an ID or an EmailAddress.')
  })
}

/**
 * The canned ACL that `grants` are (s3mesh keeps canned ACLs): the owner's
 * own grants aside, no group grant, AllUsers READ, AllUsers READ and WRITE,
 * or AuthenticatedUsers READ. Grants to other users or other sets of
 * permissions are NotImplemented, said plainly.
 */
export function cannedOfGrants (grants: Grant[]): CannedAcl {
  const groups = new Set<string>()
  for (const { permission, grantee } of grants) {
    if (!PERMISSIONS.has(permission)) throw new S3Error('MalformedACLError', `"${permission}" is not a permission: FULL_CONTROL, READ, WRITE, READ_ACP or WRITE_ACP.`)
    if ('id' in grantee && grantee.id === OWNER.ID) continue
    if (!('uri' in grantee)) throw new S3Error('NotImplemented', 's3mesh keeps canned ACLs (private, public-read, public-read-write, authenticated-read): grants to other users or e-mail addresses are not supported.')
    groups.add(`${grantee.uri} ${permission}`)
  }
  const found = Object.entries(CANNED_GRANTS).find(([, set]) => set.length === groups.size && set.every(([uri, permission]) => groups.has(`${uri} ${permission}`)))
  if (found === undefined) throw new S3Error('NotImplemented', `s3mesh keeps canned ACLs (private, public-read, public-read-write, authenticated-read); these grants are none of them: ${[...groups].join(', ')}.`)
  return found[0] as CannedAcl
}
