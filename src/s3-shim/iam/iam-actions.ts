/**
 * The IAM actions s3mesh serves, each as (form parameters) -> result
 * element, in the shapes of the IAM API reference so that botocore and the
 * SDKs read them. Policy documents go out URL-encoded, as IAM sends them
 * (botocore decodes them). Lists are never truncated: a mesh's users and
 * policies fit in one answer.
 */
import type { AccessAdmin } from '../../core/access/access-admin.js'
import { MESH_ACCOUNT, userArn, type AccessControl, type Principal } from '../../core/access/access-control.js'
import type { GroupRecord, KeyRecord, OwnerKind, PolicyRecord, UserRecord } from '../../core/access/access-records.js'
import { IamError } from '../../core/access/iam-error.js'
import type { XmlElement } from '../xml.js'

/** One IAM or STS call as an action sees it. */
export interface IamCall {
  params: URLSearchParams
  principal: Principal
  access: AccessControl
  admin: AccessAdmin
  now: number
  /** Throws AccessDenied unless the caller may do `action` (without the service prefix) on `resource`, with the request's condition keys (`keys`: the action's own, as iam:PolicyARN). */
  allow: (action: string, resource: string, service?: 'iam' | 'sts', keys?: Record<string, string>) => void
}

export type ActionHandler = (call: IamCall) => Promise<XmlElement | undefined>

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * An attach's or detach's PolicyArn, and the iam:PolicyARN a delegated
 * administrator's policy limits (which policies may be given or taken away):
 * the ARN of the policy it leads to, as the parameter names it loosely (a bare
 * name, another path or account lead to the same one); as sent when it leads
 * to none (the action then fails on it, once allowed).
 */
function policyParam (call: IamCall): { arn: string | undefined, keys: Record<string, string> } {
  const arn = call.params.get('PolicyArn') ?? undefined
  let canonical: string
  try { canonical = policyArn(call.admin.policy(arn)) } catch { canonical = arn ?? '' }
  return { arn, keys: { 'iam:PolicyARN': canonical } }
}
const groupArn = (name: string): string => `arn:aws:iam::${MESH_ACCOUNT}:group/${name}`
export const policyArn = (p: { name: string, builtin?: boolean }): string => p.builtin === true ? `arn:aws:iam::aws:policy/${p.name}` : `arn:aws:iam::${MESH_ACCOUNT}:policy/${p.name}`

export function userXml (u: UserRecord): XmlElement {
  // Status is s3mesh's (AWS has no disabled users; its clients ignore the element): what `admin user list` shows.
  return { Path: '/', UserName: u.name, UserId: u.id, Arn: userArn(u.name), CreateDate: iso(u.created), Status: u.enabled ? 'Enabled' : 'Disabled' }
}

function groupXml (g: GroupRecord): XmlElement {
  return { Path: '/', GroupName: g.name, GroupId: g.id, Arn: groupArn(g.name), CreateDate: iso(g.created) }
}

function keyXml (k: KeyRecord, secret: boolean): XmlElement {
  return { UserName: k.user, AccessKeyId: k.id, Status: k.active ? 'Active' : 'Inactive', ...(secret ? { SecretAccessKey: k.secret } : {}), CreateDate: iso(k.created) }
}

function policyXml (call: IamCall, p: PolicyRecord & { builtin: boolean }): XmlElement {
  return {
    PolicyName: p.name, PolicyId: p.id, Arn: policyArn(p), Path: '/', DefaultVersionId: 'v1',
    AttachmentCount: call.admin.attachments(p.name).length, IsAttachable: true, CreateDate: iso(p.created), UpdateDate: iso(p.updated),
  }
}

const members = (items: XmlElement[]): XmlElement => ({ member: items })
const names = (items: string[]): XmlElement => ({ member: items.map(n => n) as unknown as XmlElement[] })

/** The user a call is about: the UserName given, or the caller itself (IAM's default for GetUser, ListAccessKeys, ...). */
function subject (call: IamCall): string {
  const given = call.params.get('UserName')
  if (given !== null && given !== '') return given
  if (call.principal.kind === 'user') return call.principal.user.name
  throw new IamError('ValidationError', 'UserName is required when the caller is the root user.')
}

const userRes = (name: string): string => userArn(name)

function inlineActions (owner: OwnerKind): Record<string, ActionHandler> {
  const Owner = owner === 'user' ? 'User' : 'Group'
  const nameOf = (call: IamCall): string => owner === 'user' ? subject(call) : call.params.get('GroupName') ?? ''
  const res = (name: string): string => owner === 'user' ? userRes(name) : groupArn(name)
  return {
    [`Put${Owner}Policy`]: async call => {
      const name = nameOf(call)
      call.allow(`Put${Owner}Policy`, res(name))
      await call.admin.putInline(owner, name, call.params.get('PolicyName') ?? undefined, call.params.get('PolicyDocument') ?? undefined)
      return undefined
    },
    [`Get${Owner}Policy`]: async call => {
      const name = nameOf(call)
      call.allow(`Get${Owner}Policy`, res(name))
      const policyName = call.params.get('PolicyName') ?? undefined
      const document = call.admin.inline(owner, name, policyName)
      return { [`${Owner}Name`]: name, PolicyName: policyName, PolicyDocument: encodeURIComponent(document) }
    },
    [`Delete${Owner}Policy`]: async call => {
      const name = nameOf(call)
      call.allow(`Delete${Owner}Policy`, res(name))
      await call.admin.deleteInline(owner, name, call.params.get('PolicyName') ?? undefined)
      return undefined
    },
    [`List${Owner}Policies`]: async call => {
      const name = nameOf(call)
      call.allow(`List${Owner}Policies`, res(name))
      if (owner === 'user') call.admin.user(name); else call.admin.group(name)
      return { PolicyNames: names(call.access.state.inline(owner, name).map(i => i.policy).sort()), IsTruncated: false }
    },
    [`Attach${Owner}Policy`]: async call => {
      const name = nameOf(call)
      const { arn, keys } = policyParam(call)
      call.allow(`Attach${Owner}Policy`, res(name), undefined, keys)
      await call.admin.attach(owner, name, arn)
      return undefined
    },
    [`Detach${Owner}Policy`]: async call => {
      const name = nameOf(call)
      const { arn, keys } = policyParam(call)
      call.allow(`Detach${Owner}Policy`, res(name), undefined, keys)
      await call.admin.detach(owner, name, arn)
      return undefined
    },
    [`ListAttached${Owner}Policies`]: async call => {
      const name = nameOf(call)
      call.allow(`ListAttached${Owner}Policies`, res(name))
      if (owner === 'user') call.admin.user(name); else call.admin.group(name)
      const attached = call.access.state.attached(owner, name).map(a => call.admin.policy(a.policy))
      return { AttachedPolicies: members(attached.map(p => ({ PolicyName: p.name, PolicyArn: policyArn(p) }))), IsTruncated: false }
    },
  }
}

export const IAM_ACTIONS: Record<string, ActionHandler> = {
  CreateUser: async call => {
    const name = call.params.get('UserName') ?? undefined
    call.allow('CreateUser', userRes(name ?? ''))
    return { User: userXml(await call.admin.createUser(name)) }
  },
  GetUser: async call => {
    if (call.params.get('UserName') === null && call.principal.kind === 'root') {
      return { User: { Path: '/', UserName: 'root', UserId: MESH_ACCOUNT, Arn: `arn:aws:iam::${MESH_ACCOUNT}:root`, CreateDate: iso(0) } }
    }
    const name = subject(call)
    if (!(call.principal.kind === 'user' && call.principal.user.name === name)) call.allow('GetUser', userRes(name))
    return { User: userXml(call.admin.user(name)) }
  },
  ListUsers: async call => {
    call.allow('ListUsers', '*')
    return { Users: members(call.access.state.list('user').sort((a, b) => a.name < b.name ? -1 : 1).map(userXml)), IsTruncated: false }
  },
  DeleteUser: async call => {
    const name = call.params.get('UserName') ?? undefined
    call.allow('DeleteUser', userRes(name ?? ''))
    await call.admin.deleteUser(name)
    return undefined
  },
  /** Not in AWS's IAM (it has no disabled users): MinIO's `user disable|enable`, for the CLI and the console. */
  SetUserStatus: async call => {
    const name = call.params.get('UserName') ?? undefined
    call.allow('SetUserStatus', userRes(name ?? ''))
    const status = call.params.get('Status')
    if (status !== 'Enabled' && status !== 'Disabled') throw new IamError('ValidationError', 'Status must be Enabled or Disabled.')
    return { User: userXml(await call.admin.setUserEnabled(name, status === 'Enabled')) }
  },
  CreateAccessKey: async call => {
    const name = subject(call)
    call.allow('CreateAccessKey', userRes(name))
    // s3mesh's extension, for `s3mesh admin user add KEY SECRET`: the caller may choose the key and secret.
    const id = call.params.get('AccessKeyId') ?? undefined
    const secret = call.params.get('SecretAccessKey') ?? undefined
    const key = await call.admin.createAccessKey(name, { ...(id === undefined ? {} : { id }), ...(secret === undefined ? {} : { secret }) })
    return { AccessKey: keyXml(key, true) }
  },
  ListAccessKeys: async call => {
    const name = subject(call)
    call.allow('ListAccessKeys', userRes(name))
    call.admin.user(name)
    return { AccessKeyMetadata: members(call.access.state.keysOf(name).map(k => keyXml(k, false))), IsTruncated: false }
  },
  UpdateAccessKey: async call => {
    const name = subject(call)
    call.allow('UpdateAccessKey', userRes(name))
    await call.admin.updateAccessKey(call.params.get('AccessKeyId') ?? undefined, call.params.get('Status') ?? undefined, name)
    return undefined
  },
  DeleteAccessKey: async call => {
    const name = subject(call)
    call.allow('DeleteAccessKey', userRes(name))
    await call.admin.deleteAccessKey(call.params.get('AccessKeyId') ?? undefined, name)
    return undefined
  },
  CreatePolicy: async call => {
    const name = call.params.get('PolicyName') ?? undefined
    call.allow('CreatePolicy', `arn:aws:iam::${MESH_ACCOUNT}:policy/${name ?? ''}`)
    const p = await call.admin.createPolicy(name, call.params.get('PolicyDocument') ?? undefined)
    return { Policy: policyXml(call, { ...p, builtin: false }) }
  },
  GetPolicy: async call => {
    const p = call.admin.policy(call.params.get('PolicyArn') ?? undefined)
    call.allow('GetPolicy', policyArn(p))
    return { Policy: policyXml(call, p) }
  },
  GetPolicyVersion: async call => {
    const p = call.admin.policy(call.params.get('PolicyArn') ?? undefined)
    call.allow('GetPolicyVersion', policyArn(p))
    const version = call.params.get('VersionId') ?? 'v1'
    if (version !== 'v1') throw new IamError('NoSuchEntity', `Policy ${p.name} has one version, v1 (s3mesh replaces a policy's document rather than versioning it).`)
    return { PolicyVersion: { Document: encodeURIComponent(p.document), VersionId: 'v1', IsDefaultVersion: true, CreateDate: iso(p.created) } }
  },
  /**
   * s3mesh keeps one version of a policy: a new version replaces the
   * document at once (SetAsDefault must be true) and is still `v1`.
   */
  CreatePolicyVersion: async call => {
    const p = call.admin.policy(call.params.get('PolicyArn') ?? undefined)
    call.allow('CreatePolicyVersion', policyArn(p))
    if (call.params.get('SetAsDefault') !== 'true') throw new IamError('ValidationError', 's3mesh keeps one version of a policy: send SetAsDefault=true to replace it.')
    const next = await call.admin.replacePolicy(p.name, call.params.get('PolicyDocument') ?? undefined)
    return { PolicyVersion: { VersionId: 'v1', IsDefaultVersion: true, CreateDate: iso(next.updated) } }
  },
  ListPolicies: async call => {
    call.allow('ListPolicies', '*')
    const scope = call.params.get('Scope') ?? 'All'
    const list = call.admin.policies().filter(p => scope === 'All' || (scope === 'AWS') === p.builtin)
    return { Policies: members(list.map(p => policyXml(call, p))), IsTruncated: false }
  },
  DeletePolicy: async call => {
    const p = call.admin.policy(call.params.get('PolicyArn') ?? undefined)
    call.allow('DeletePolicy', policyArn(p))
    await call.admin.deletePolicy(p.name)
    return undefined
  },
  CreateGroup: async call => {
    const name = call.params.get('GroupName') ?? undefined
    call.allow('CreateGroup', groupArn(name ?? ''))
    return { Group: groupXml(await call.admin.createGroup(name)) }
  },
  GetGroup: async call => {
    const g = call.admin.group(call.params.get('GroupName') ?? undefined)
    call.allow('GetGroup', groupArn(g.name))
    return { Group: groupXml(g), Users: members(call.access.state.membersOf(g.name).map(n => userXml(call.admin.user(n)))), IsTruncated: false }
  },
  ListGroups: async call => {
    call.allow('ListGroups', '*')
    return { Groups: members(call.access.state.list('group').map(groupXml)), IsTruncated: false }
  },
  DeleteGroup: async call => {
    const name = call.params.get('GroupName') ?? undefined
    call.allow('DeleteGroup', groupArn(name ?? ''))
    await call.admin.deleteGroup(name)
    return undefined
  },
  AddUserToGroup: async call => {
    const name = call.params.get('GroupName') ?? undefined
    call.allow('AddUserToGroup', groupArn(name ?? ''))
    await call.admin.addUserToGroup(name, call.params.get('UserName') ?? undefined)
    return undefined
  },
  RemoveUserFromGroup: async call => {
    const name = call.params.get('GroupName') ?? undefined
    call.allow('RemoveUserFromGroup', groupArn(name ?? ''))
    await call.admin.removeUserFromGroup(name, call.params.get('UserName') ?? undefined)
    return undefined
  },
  ListGroupsForUser: async call => {
    const name = subject(call)
    call.allow('ListGroupsForUser', userRes(name))
    call.admin.user(name)
    return { Groups: members(call.access.state.groupsOf(name).map(g => groupXml(call.admin.group(g)))), IsTruncated: false }
  },
  ...inlineActions('user'),
  ...inlineActions('group'),
}
