/**
 * The IAM and STS calls the Access section makes, over a Session: the query
 * protocol (a signed form POST to /_s3mesh/v1/iam or /sts, XML answers),
 * errors thrown with IAM's code and the node's message, which already names
 * what is wrong (MalformedPolicyDocument names the statement and field).
 */
import { policyArn } from './permissions.js'
import type { Session } from './session.js'

/** A refused IAM or STS call: `code` is IAM's (MalformedPolicyDocument, DeleteConflict, ...). */
export class IamCallError extends Error {
  override name = 'IamCallError'
  constructor (readonly code: string, message: string, readonly status: number) { super(message) }
}

const VERSIONS = { iam: '2010-05-08', sts: '2011-06-15' } as const

const text = (el: Element | null | undefined): string => el?.textContent ?? ''
const all = (el: Element, selector: string): Element[] => [...el.querySelectorAll(selector)]

/** One call; resolves with its `<Action>Result` element. */
export async function call (s: Session, action: string, params: Record<string, string | undefined> = {}, service: 'iam' | 'sts' = 'iam'): Promise<Element> {
  const body = new URLSearchParams({ Action: action, Version: VERSIONS[service] })
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body.set(k, v)
  const res = await s.accessApi(service, body)
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  if (!res.ok) {
    const code = text(doc.querySelector('Error > Code')) || `HTTP ${res.status}`
    const message = text(doc.querySelector('Error > Message'))
    throw new IamCallError(code, code === 'AccessDenied' ? `Your access does not allow this (${action}). ${message}`.trim() : message || code, res.status)
  }
  return doc.querySelector(`${action}Result`) ?? doc.documentElement
}

export interface UserRow { name: string, created: number, /** undefined when the node does not say. */ enabled?: boolean }
export interface KeyRow { id: string, active: boolean, created: number }
export interface PolicyRow { name: string, arn: string, builtin: boolean, attachments: number, updated: number }
export interface GroupRow { name: string, created: number }

/** What one user has: keys, managed policies attached, inline policies, groups. */
export interface UserDetail { keys: KeyRow[], attached: string[], inline: string[], groups: string[] }
export interface GroupDetail { members: string[], attached: string[], inline: string[] }

export async function listUsers (s: Session): Promise<UserRow[]> {
  const r = await call(s, 'ListUsers')
  // Status is s3mesh's own element (AWS has no disabled users): absent from a node that does not send it.
  return all(r, 'Users > member').map(u => {
    const status = text(u.querySelector('Status'))
    return { name: text(u.querySelector('UserName')), created: Date.parse(text(u.querySelector('CreateDate'))), ...(status === '' ? {} : { enabled: status !== 'Disabled' }) }
  })
}

export async function userDetail (s: Session, name: string): Promise<UserDetail> {
  const UserName = name
  const [keys, attached, inline, groups] = await Promise.all([
    call(s, 'ListAccessKeys', { UserName }), call(s, 'ListAttachedUserPolicies', { UserName }), call(s, 'ListUserPolicies', { UserName }), call(s, 'ListGroupsForUser', { UserName }),
  ])
  return {
    keys: all(keys, 'AccessKeyMetadata > member').map(k => ({ id: text(k.querySelector('AccessKeyId')), active: text(k.querySelector('Status')) === 'Active', created: Date.parse(text(k.querySelector('CreateDate'))) })),
    attached: all(attached, 'AttachedPolicies > member').map(p => text(p.querySelector('PolicyName'))),
    inline: all(inline, 'PolicyNames > member').map(p => text(p)),
    groups: all(groups, 'Groups > member').map(g => text(g.querySelector('GroupName'))),
  }
}

export async function listGroups (s: Session): Promise<GroupRow[]> {
  const r = await call(s, 'ListGroups')
  return all(r, 'Groups > member').map(g => ({ name: text(g.querySelector('GroupName')), created: Date.parse(text(g.querySelector('CreateDate'))) }))
}

export async function groupDetail (s: Session, name: string): Promise<GroupDetail> {
  const GroupName = name
  const [group, attached, inline] = await Promise.all([call(s, 'GetGroup', { GroupName }), call(s, 'ListAttachedGroupPolicies', { GroupName }), call(s, 'ListGroupPolicies', { GroupName })])
  return {
    members: all(group, 'Users > member').map(u => text(u.querySelector('UserName'))),
    attached: all(attached, 'AttachedPolicies > member').map(p => text(p.querySelector('PolicyName'))),
    inline: all(inline, 'PolicyNames > member').map(p => text(p)),
  }
}

export async function listPolicies (s: Session): Promise<PolicyRow[]> {
  const r = await call(s, 'ListPolicies')
  return all(r, 'Policies > member').map(p => {
    const arn = text(p.querySelector('Arn'))
    return { name: text(p.querySelector('PolicyName')), arn, builtin: arn.includes(':aws:policy/'), attachments: Number(text(p.querySelector('AttachmentCount')) || 0), updated: Date.parse(text(p.querySelector('UpdateDate'))) }
  })
}

/** A managed policy's document, as JSON text (IAM sends it URL-encoded). */
export async function policyDocument (s: Session, arn: string): Promise<string> {
  const r = await call(s, 'GetPolicyVersion', { PolicyArn: arn, VersionId: 'v1' })
  return decodeURIComponent(text(r.querySelector('Document')))
}

/** Creates an access key; its secret is in the answer and nowhere else, ever after. */
export async function createAccessKey (s: Session, user: string): Promise<{ accessKeyId: string, secretAccessKey: string }> {
  const r = await call(s, 'CreateAccessKey', { UserName: user })
  return { accessKeyId: text(r.querySelector('AccessKeyId')), secretAccessKey: text(r.querySelector('SecretAccessKey')) }
}

/**
 * Removes what IAM's DeleteUser refuses to leave behind (keys, policies,
 * group memberships), then the user.
 */
export async function deleteUser (s: Session, name: string): Promise<void> {
  const d = await userDetail(s, name)
  const UserName = name
  await Promise.all([
    ...d.keys.map(async k => await call(s, 'DeleteAccessKey', { UserName, AccessKeyId: k.id })),
    ...d.attached.map(async p => await call(s, 'DetachUserPolicy', { UserName, PolicyArn: p })),
    ...d.inline.map(async p => await call(s, 'DeleteUserPolicy', { UserName, PolicyName: p })),
    ...d.groups.map(async g => await call(s, 'RemoveUserFromGroup', { UserName, GroupName: g })),
  ])
  await call(s, 'DeleteUser', { UserName })
}

/** Removes a group's members and policies, then the group. */
export async function deleteGroup (s: Session, name: string): Promise<void> {
  const d = await groupDetail(s, name)
  const GroupName = name
  await Promise.all([
    ...d.members.map(async u => await call(s, 'RemoveUserFromGroup', { GroupName, UserName: u })),
    ...d.attached.map(async p => await call(s, 'DetachGroupPolicy', { GroupName, PolicyArn: p })),
    ...d.inline.map(async p => await call(s, 'DeleteGroupPolicy', { GroupName, PolicyName: p })),
  ])
  await call(s, 'DeleteGroup', { GroupName })
}

/** Who a managed policy is attached to: every user's and group's attachments, read one by one. */
export async function attachmentsOf (s: Session, policy: string): Promise<Array<{ owner: 'user' | 'group', name: string }>> {
  const [users, groups] = await Promise.all([listUsers(s), listGroups(s)])
  const found: Array<{ owner: 'user' | 'group', name: string }> = []
  await Promise.all([
    ...users.map(async u => {
      const r = await call(s, 'ListAttachedUserPolicies', { UserName: u.name })
      if (all(r, 'AttachedPolicies > member').some(p => text(p.querySelector('PolicyName')) === policy)) found.push({ owner: 'user', name: u.name })
    }),
    ...groups.map(async g => {
      const r = await call(s, 'ListAttachedGroupPolicies', { GroupName: g.name })
      if (all(r, 'AttachedPolicies > member').some(p => text(p.querySelector('PolicyName')) === policy)) found.push({ owner: 'group', name: g.name })
    }),
  ])
  return found
}

/** Replaces a custom policy's document in one step (CreatePolicyVersion: the node keeps one version); its users and groups keep it attached. */
export async function replacePolicy (s: Session, name: string, document: string): Promise<void> {
  await call(s, 'CreatePolicyVersion', { PolicyArn: policyArn(name), PolicyDocument: document, SetAsDefault: 'true' })
}

export interface TemporaryCredentials { accessKeyId: string, secretAccessKey: string, sessionToken: string, expiration: string }

/**
 * Temporary credentials for a user (STS AssumeRole with s3mesh's UserName),
 * for `seconds`, narrowed by a session policy when given.
 */
export async function temporaryCredentials (s: Session, user: string, seconds: number, policy?: string): Promise<TemporaryCredentials> {
  const r = await call(s, 'AssumeRole', { UserName: user, DurationSeconds: String(seconds), RoleSessionName: 'console', Policy: policy }, 'sts')
  return {
    accessKeyId: text(r.querySelector('Credentials > AccessKeyId')), secretAccessKey: text(r.querySelector('Credentials > SecretAccessKey')),
    sessionToken: text(r.querySelector('Credentials > SessionToken')), expiration: text(r.querySelector('Credentials > Expiration')),
  }
}

/**
 * A session policy that allows everything the user may do in one bucket,
 * under one prefix only (listing included, for that prefix).
 */
export function prefixPolicy (bucket: string, prefix: string): string {
  const list: Record<string, unknown> = { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` }
  if (prefix !== '') list.Condition = { StringLike: { 's3:prefix': `${prefix}*` } }
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
      list,
      { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: `arn:aws:s3:::${bucket}` },
    ],
  })
}
