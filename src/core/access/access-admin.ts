/**
 * Managing users, keys, groups and policies: what the IAM API, the CLI
 * (through it) and the console do, with IAM's rules and limits. Every change
 * is checked whole before it is committed, so a refused call changes
 * nothing; a committed one is saved and gossiped by the state's listeners.
 */
import { idOf, type GroupRecord, type KeyRecord, type OwnerKind, type PolicyRecord, type UserRecord } from './access-records.js'
import type { AccessState } from './access-state.js'
import { BUILTIN_POLICIES, isBuiltinPolicy } from './builtin-policies.js'
import { IamError } from './iam-error.js'
import { MalformedPolicyError, policyToKeep, type PolicyKind } from './policy.js'

/** IAM's quotas that s3mesh keeps (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
export const IAM_LIMITS = {
  /** Access keys per user: two, so a key can be rotated without downtime. */
  keysPerUser: 2,
  /** Managed policies attached to one user or group. */
  attachedPerIdentity: 10,
  /** Groups one user is in. */
  groupsPerUser: 10,
  /** Users in a mesh. */
  users: 5000,
  /** Managed policies in a mesh. */
  policies: 1500,
} as const

const NAME = /^[\w+=,.@-]+$/
const KEY_ID = /^[\w+=,.@-]{3,128}$/

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
function randomText (n: number, alphabet = ALPHABET): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n))
  let s = ''
  for (const b of bytes) s += alphabet[b % alphabet.length]
  return s
}

/** IAM-style ids: a four-letter prefix by kind, then random. */
export function newId (prefix: 'AIDA' | 'AGPA' | 'ANPA' | 'AKIA' | 'ASIA'): string {
  return prefix + randomText(16)
}

/** A secret access key: 40 characters, as AWS's. */
export function newSecret (): string {
  return randomText(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
}

/** Throws MalformedPolicyDocument naming the statement and field; returns the text to keep (policyToKeep). */
export function checkPolicy (document: string, kind: PolicyKind = 'identity'): string {
  try {
    return policyToKeep(document, kind)
  } catch (err) {
    if (err instanceof MalformedPolicyError) throw new IamError('MalformedPolicyDocument', err.message)
    throw err
  }
}

function checkName (what: string, name: string | undefined, max: number): string {
  if (name === undefined || name === '') throw new IamError('MissingParameter', `${what} is required.`)
  if (name.length > max || !NAME.test(name)) throw new IamError('ValidationError', `${what} "${name}" must be 1 to ${max} letters, digits or +=,.@_- characters.`)
  return name
}

export class AccessAdmin {
  constructor (readonly state: AccessState, private readonly rootAccessKey: string, private readonly now: () => number = Date.now) {}

  // Users

  async createUser (name: string | undefined): Promise<UserRecord> {
    checkName('UserName', name, 64)
    if (this.state.user(name!) !== undefined) throw new IamError('EntityAlreadyExists', `User with name ${name} already exists.`)
    if (this.state.list('user').length >= IAM_LIMITS.users) throw new IamError('LimitExceeded', `A mesh may have at most ${IAM_LIMITS.users} users.`)
    const user: UserRecord = { kind: 'user', name: name!, id: newId('AIDA'), enabled: true, created: this.now() }
    await this.state.commit([user])
    return user
  }

  user (name: string | undefined): UserRecord {
    checkName('UserName', name, 64)
    const u = this.state.user(name!)
    if (u === undefined) throw new IamError('NoSuchEntity', `The user with name ${name} cannot be found.`)
    return u
  }

  /** A user named by its name or by one of its access keys (mc admin habits: users are named by key). */
  userByNameOrKey (nameOrKey: string): UserRecord {
    const byName = this.state.user(nameOrKey)
    if (byName !== undefined) return byName
    const key = this.state.key(nameOrKey)
    const u = key === undefined ? undefined : this.state.user(key.user)
    if (u === undefined) throw new IamError('NoSuchEntity', `No user is named ${nameOrKey} or has it as an access key.`)
    return u
  }

  /**
   * IAM's DeleteUser refuses a user that still has keys, policies or groups
   * (DeleteConflict); `force` removes them with it (the CLI's `user remove`).
   */
  async deleteUser (name: string | undefined, force = false): Promise<void> {
    const u = this.user(name)
    const dependents = this.state.dependents('user', u.name)
    if (dependents.length > 0 && !force) throw new IamError('DeleteConflict', `Cannot delete user ${u.name}: remove its access keys, policies and group memberships first.`)
    await this.state.commit([], [idOf('user', u.name), ...dependents])
  }

  async setUserEnabled (name: string | undefined, enabled: boolean): Promise<UserRecord> {
    const u = this.user(name)
    const next = { ...u, enabled }
    await this.state.commit([next])
    return next
  }

  // Access keys

  /** A new key for a user; the key id and secret may be given (the CLI's `user add KEY SECRET`). */
  async createAccessKey (userName: string | undefined, given: { id?: string, secret?: string } = {}): Promise<KeyRecord> {
    const u = this.user(userName)
    if (this.state.keysOf(u.name).length >= IAM_LIMITS.keysPerUser) throw new IamError('LimitExceeded', `User ${u.name} already has ${IAM_LIMITS.keysPerUser} access keys (IAM's limit): delete one before creating another.`)
    const id = given.id ?? newId('AKIA')
    if (!KEY_ID.test(id)) throw new IamError('ValidationError', `The access key id "${id}" must be 3 to 128 letters, digits or +=,.@_- characters.`)
    if (id === this.rootAccessKey || this.state.key(id) !== undefined) throw new IamError('EntityAlreadyExists', `The access key ${id} is already in use.`)
    const secret = given.secret ?? newSecret()
    if (!/^[\x21-\x7e]{8,128}$/.test(secret)) throw new IamError('ValidationError', 'The secret key must be 8 to 128 printable ASCII characters, without spaces.')
    const key: KeyRecord = { kind: 'key', id, user: u.name, secret, active: true, created: this.now() }
    await this.state.commit([key])
    return key
  }

  key (id: string | undefined, userName?: string): KeyRecord {
    if (id === undefined || id === '') throw new IamError('MissingParameter', 'AccessKeyId is required.')
    const k = this.state.key(id)
    if (k === undefined || (userName !== undefined && k.user !== userName)) throw new IamError('NoSuchEntity', `The access key with id ${id} cannot be found.`)
    return k
  }

  async updateAccessKey (id: string | undefined, status: string | undefined, userName?: string): Promise<void> {
    const k = this.key(id, userName)
    if (status !== 'Active' && status !== 'Inactive') throw new IamError('ValidationError', 'Status must be Active or Inactive.')
    await this.state.commit([{ ...k, active: status === 'Active' }])
  }

  async deleteAccessKey (id: string | undefined, userName?: string): Promise<void> {
    const k = this.key(id, userName)
    await this.state.commit([], [idOf('key', k.id)])
  }

  // Groups

  async createGroup (name: string | undefined): Promise<GroupRecord> {
    checkName('GroupName', name, 128)
    if (this.state.group(name!) !== undefined) throw new IamError('EntityAlreadyExists', `Group with name ${name} already exists.`)
    const g: GroupRecord = { kind: 'group', name: name!, id: newId('AGPA'), created: this.now() }
    await this.state.commit([g])
    return g
  }

  group (name: string | undefined): GroupRecord {
    checkName('GroupName', name, 128)
    const g = this.state.group(name!)
    if (g === undefined) throw new IamError('NoSuchEntity', `The group with name ${name} cannot be found.`)
    return g
  }

  async deleteGroup (name: string | undefined, force = false): Promise<void> {
    const g = this.group(name)
    const dependents = this.state.dependents('group', g.name)
    if (dependents.length > 0 && !force) throw new IamError('DeleteConflict', `Cannot delete group ${g.name}: remove its users and policies first.`)
    await this.state.commit([], [idOf('group', g.name), ...dependents])
  }

  async addUserToGroup (groupName: string | undefined, userName: string | undefined): Promise<void> {
    const g = this.group(groupName)
    const u = this.user(userName)
    const groups = this.state.groupsOf(u.name)
    if (groups.includes(g.name)) return
    if (groups.length >= IAM_LIMITS.groupsPerUser) throw new IamError('LimitExceeded', `User ${u.name} is already in ${IAM_LIMITS.groupsPerUser} groups (IAM's limit).`)
    await this.state.commit([{ kind: 'member', group: g.name, user: u.name }])
  }

  async removeUserFromGroup (groupName: string | undefined, userName: string | undefined): Promise<void> {
    const g = this.group(groupName)
    const u = this.user(userName)
    const id = idOf('member', g.name, u.name)
    if (this.state.get(id) === undefined) throw new IamError('NoSuchEntity', `User ${u.name} is not in group ${g.name}.`)
    await this.state.commit([], [id])
  }

  // Managed policies

  async createPolicy (name: string | undefined, document: string | undefined): Promise<PolicyRecord> {
    checkName('PolicyName', name, 128)
    if (document === undefined) throw new IamError('MissingParameter', 'PolicyDocument is required.')
    if (isBuiltinPolicy(name!) || this.state.policy(name!) !== undefined) throw new IamError('EntityAlreadyExists', `A policy called ${name} already exists.`)
    if (this.state.list('policy').length >= IAM_LIMITS.policies) throw new IamError('LimitExceeded', `A mesh may have at most ${IAM_LIMITS.policies} policies.`)
    const now = this.now()
    const p: PolicyRecord = { kind: 'policy', name: name!, id: newId('ANPA'), document: checkPolicy(document), created: now, updated: now }
    await this.state.commit([p])
    return p
  }

  /** Replaces a managed policy's document in one step: whoever it is attached to has the new rights at once. */
  async replacePolicy (nameOrArn: string | undefined, document: string | undefined): Promise<PolicyRecord> {
    const p = this.policy(nameOrArn)
    if (p.builtin) throw new IamError('InvalidInput', `${p.name} is a built-in policy; it cannot be changed.`)
    if (document === undefined) throw new IamError('MissingParameter', 'PolicyDocument is required.')
    const { builtin: _, ...record } = p
    const next: PolicyRecord = { ...record, document: checkPolicy(document), updated: this.now() }
    await this.state.commit([next])
    return next
  }

  /** A managed policy by name or ARN, built-ins included. */
  policy (nameOrArn: string | undefined): PolicyRecord & { builtin: boolean } {
    if (nameOrArn === undefined || nameOrArn === '') throw new IamError('MissingParameter', 'PolicyArn is required.')
    const name = policyNameOf(nameOrArn)
    if (isBuiltinPolicy(name)) return { kind: 'policy', name, id: `ANPA${name.toUpperCase()}`, document: BUILTIN_POLICIES[name]!, created: 0, updated: 0, builtin: true }
    const p = this.state.policy(name)
    if (p === undefined) throw new IamError('NoSuchEntity', `Policy ${nameOrArn} does not exist.`)
    return { ...p, builtin: false }
  }

  policies (): Array<PolicyRecord & { builtin: boolean }> {
    return [...Object.keys(BUILTIN_POLICIES).map(n => this.policy(n)), ...this.state.list('policy').map(p => ({ ...p, builtin: false }))]
  }

  /** Users and groups a managed policy is attached to. */
  attachments (name: string): Array<{ owner: OwnerKind, name: string }> {
    return this.state.list('attach').filter(a => a.policy === name && (a.owner === 'user' ? this.state.user(a.name) : this.state.group(a.name)) !== undefined).map(a => ({ owner: a.owner, name: a.name }))
  }

  async deletePolicy (nameOrArn: string | undefined, force = false): Promise<void> {
    const p = this.policy(nameOrArn)
    if (p.builtin) throw new IamError('InvalidInput', `${p.name} is a built-in policy; it cannot be deleted.`)
    const attached = this.attachments(p.name)
    if (attached.length > 0 && !force) throw new IamError('DeleteConflict', `Policy ${p.name} is attached to ${attached.map(a => `${a.owner} ${a.name}`).join(', ')}: detach it first.`)
    await this.state.commit([], [idOf('policy', p.name), ...this.state.list('attach').filter(a => a.policy === p.name).map(a => idOf('attach', a.owner, a.name, a.policy))])
  }

  async attach (owner: OwnerKind, name: string | undefined, policyArn: string | undefined): Promise<void> {
    const target = owner === 'user' ? this.user(name).name : this.group(name).name
    const p = this.policy(policyArn)
    const attached = this.state.attached(owner, target)
    if (attached.some(a => a.policy === p.name)) return
    if (attached.length >= IAM_LIMITS.attachedPerIdentity) throw new IamError('LimitExceeded', `${owner === 'user' ? 'User' : 'Group'} ${target} already has ${IAM_LIMITS.attachedPerIdentity} policies attached (IAM's limit).`)
    await this.state.commit([{ kind: 'attach', owner, name: target, policy: p.name }])
  }

  async detach (owner: OwnerKind, name: string | undefined, policyArn: string | undefined): Promise<void> {
    const target = owner === 'user' ? this.user(name).name : this.group(name).name
    const p = this.policy(policyArn)
    const id = idOf('attach', owner, target, p.name)
    if (this.state.get(id) === undefined) throw new IamError('NoSuchEntity', `Policy ${p.name} is not attached to ${owner} ${target}.`)
    await this.state.commit([], [id])
  }

  // Inline policies

  async putInline (owner: OwnerKind, name: string | undefined, policyName: string | undefined, document: string | undefined): Promise<void> {
    const target = owner === 'user' ? this.user(name).name : this.group(name).name
    checkName('PolicyName', policyName, 128)
    if (document === undefined) throw new IamError('MissingParameter', 'PolicyDocument is required.')
    await this.state.commit([{ kind: 'inline', owner, name: target, policy: policyName!, document: checkPolicy(document) }])
  }

  inline (owner: OwnerKind, name: string | undefined, policyName: string | undefined): string {
    const target = owner === 'user' ? this.user(name).name : this.group(name).name
    const r = this.state.inline(owner, target).find(i => i.policy === policyName)
    if (r === undefined) throw new IamError('NoSuchEntity', `The ${owner} policy with name ${policyName} cannot be found.`)
    return r.document
  }

  async deleteInline (owner: OwnerKind, name: string | undefined, policyName: string | undefined): Promise<void> {
    const target = owner === 'user' ? this.user(name).name : this.group(name).name
    this.inline(owner, target, policyName)
    await this.state.commit([], [idOf('inline', owner, target, policyName!)])
  }
}

/** A policy's name from its ARN (any account, `aws` for built-ins) or the name itself. */
export function policyNameOf (nameOrArn: string): string {
  const m = /^arn:aws:iam::[^:]*:policy\/(?:.*\/)?([^/]+)$/.exec(nameOrArn)
  return m === null ? nameOrArn : m[1]!
}
