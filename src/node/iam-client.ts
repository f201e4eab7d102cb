/**
 * A small typed client for the IAM API a node serves at its S3 endpoint
 * (src/s3-shim/iam/access-api.ts): a form-encoded POST to `/`, SigV4-signed
 * for service `iam`, answered in the query protocol's XML. `s3mesh admin`
 * speaks through it; any IAM client (aws iam, boto3) would do the same.
 */
import { XMLParser } from 'fast-xml-parser'
import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../core/s3-signer.js'

/** An error the node reported, with IAM's code (NoSuchEntity, MalformedPolicyDocument, ...) and message. */
export class IamApiError extends Error {
  static override name = 'IamApiError'
  constructor (readonly code: string, message: string, readonly status: number) {
    super(message)
    this.name = 'IamApiError'
  }
}

/** Nothing answered at the endpoint (refused, no such host, no answer in time). */
export class EndpointUnreachableError extends Error {
  static override name = 'EndpointUnreachableError'
  constructor (readonly endpoint: string, reason: string) {
    super(reason)
    this.name = 'EndpointUnreachableError'
  }
}

/** Something answered, but not in IAM's XML: another server, or the console's port. */
export class UnexpectedAnswerError extends Error {
  static override name = 'UnexpectedAnswerError'
  constructor (readonly endpoint: string, readonly status: number, message: string) {
    super(message)
    this.name = 'UnexpectedAnswerError'
  }
}

export type Owner = 'user' | 'group'
export interface IamUser { name: string, arn: string, created: string, /** s3mesh's Status element: whether the user is enabled. */ enabled: boolean }
export interface IamAccessKey { id: string, status: 'Active' | 'Inactive' }
export interface IamPolicy { name: string, arn: string, builtin: boolean, attachments: number }

type Element = Record<string, unknown>

// parseTagValue off: a user called "007" stays "007". `member` is the query protocol's list item, always a list.
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, removeNSPrefix: true, isArray: name => name === 'member' })

const element = (v: unknown): Element => typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Element : {}
const text = (v: unknown): string => typeof v === 'string' ? v : ''
/** The items of a query-protocol list (`<Users><member>...</member></Users>`); an empty list parses as ''. */
const members = (list: unknown): unknown[] => { const m = element(list).member; return Array.isArray(m) ? m : [] }
const ownerWord = (owner: Owner): string => owner === 'user' ? 'User' : 'Group'
const BUILTIN_ARN = 'arn:aws:iam::aws:policy/'

/** Why fetch failed, in a few words: Node's `fetch failed` hides the reason in `cause`. */
function reasonOf (err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in 10 s'
  const cause = err instanceof Error ? err.cause as { code?: string, message?: string } | undefined : undefined
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))
}

export class IamClient {
  private readonly signer: AwsClient
  private readonly url: string

  constructor (readonly endpoint: string, credentials: { accessKeyId: string, secretAccessKey: string }) {
    this.signer = s3Signer(credentials)
    // The API answers at the endpoint's root (or its base path's): `${base}/`.
    this.url = endpoint.endsWith('/') ? endpoint : endpoint + '/'
  }

  /** One IAM action; resolves with its `<ActionResult>` element (empty for actions that return nothing). */
  async call (action: string, params: Record<string, string> = {}): Promise<Element> {
    const form = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params })
    const res = await this.send(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: form.toString(),
      // s3Signer signs for s3; one request may name another service.
      aws: { service: 'iam' },
    })
    const body = await res.text()
    let doc: Element
    try {
      doc = element(parser.parse(body))
    } catch {
      doc = {}
    }
    const error = element(element(doc.ErrorResponse).Error)
    if (typeof error.Code === 'string') throw new IamApiError(error.Code, text(error.Message), res.status)
    const answer = doc[`${action}Response`]
    if (!res.ok || answer === undefined) {
      throw new UnexpectedAnswerError(this.endpoint, res.status, `${this.endpoint} answered HTTP ${res.status}, not an IAM answer${body === '' ? '' : `: ${body.slice(0, 120).replace(/\s+/g, ' ')}`}`)
    }
    return element(element(answer)[`${action}Result`])
  }

  /**
   * Whether each user is enabled. IAM's User element has no status (AWS has
   * no disabled users), so this reads the node's access state, which only
   * the root credentials may; undefined when they are not root.
   */
  /** Whether each user is enabled (ListUsers carries s3mesh's Status). */
  async userStatuses (): Promise<Map<string, boolean>> {
    return new Map((await this.listUsers()).map(u => [u.name, u.enabled]))
  }

  private async send (url: string, init: Parameters<AwsClient['fetch']>[1]): Promise<Response> {
    try {
      return await this.signer.fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      throw new EndpointUnreachableError(this.endpoint, reasonOf(err))
    }
  }

  // Users and their keys

  async listUsers (): Promise<IamUser[]> {
    const r = await this.call('ListUsers')
    return members(r.Users).map(element).map(u => ({ name: text(u.UserName), arn: text(u.Arn), created: text(u.CreateDate), enabled: text(u.Status) !== 'Disabled' }))
  }

  async createUser (name: string): Promise<void> { await this.call('CreateUser', { UserName: name }) }
  async deleteUser (name: string): Promise<void> { await this.call('DeleteUser', { UserName: name }) }

  /** s3mesh's extension (MinIO's `user disable|enable`). */
  async setUserStatus (name: string, enabled: boolean): Promise<void> {
    await this.call('SetUserStatus', { UserName: name, Status: enabled ? 'Enabled' : 'Disabled' })
  }

  async listAccessKeys (user: string): Promise<IamAccessKey[]> {
    const r = await this.call('ListAccessKeys', { UserName: user })
    return members(r.AccessKeyMetadata).map(element).map(k => ({ id: text(k.AccessKeyId), status: k.Status === 'Inactive' ? 'Inactive' : 'Active' }))
  }

  /** The key id and secret may be given (s3mesh's extension); IAM makes them up otherwise. */
  async createAccessKey (user: string, given: { id?: string, secret?: string } = {}): Promise<{ id: string, secret: string }> {
    const r = await this.call('CreateAccessKey', {
      UserName: user, ...(given.id === undefined ? {} : { AccessKeyId: given.id }), ...(given.secret === undefined ? {} : { SecretAccessKey: given.secret }),
    })
    const key = element(r.AccessKey)
    return { id: text(key.AccessKeyId), secret: text(key.SecretAccessKey) }
  }

  async deleteAccessKey (user: string, id: string): Promise<void> { await this.call('DeleteAccessKey', { UserName: user, AccessKeyId: id }) }

  async groupsOf (user: string): Promise<string[]> {
    const r = await this.call('ListGroupsForUser', { UserName: user })
    return members(r.Groups).map(g => text(element(g).GroupName))
  }

  // Groups

  async listGroups (): Promise<string[]> {
    const r = await this.call('ListGroups')
    return members(r.Groups).map(g => text(element(g).GroupName))
  }

  /** A group's members, or undefined when there is no such group. */
  async groupMembers (group: string): Promise<string[] | undefined> {
    try {
      const r = await this.call('GetGroup', { GroupName: group })
      return members(r.Users).map(u => text(element(u).UserName))
    } catch (err) {
      if (err instanceof IamApiError && err.code === 'NoSuchEntity') return undefined
      throw err
    }
  }

  async createGroup (group: string): Promise<void> { await this.call('CreateGroup', { GroupName: group }) }
  async deleteGroup (group: string): Promise<void> { await this.call('DeleteGroup', { GroupName: group }) }
  async addUserToGroup (group: string, user: string): Promise<void> { await this.call('AddUserToGroup', { GroupName: group, UserName: user }) }
  async removeUserFromGroup (group: string, user: string): Promise<void> { await this.call('RemoveUserFromGroup', { GroupName: group, UserName: user }) }

  // Policies of a user or a group: managed ones attached, inline ones owned

  /** `policy` is a name or an ARN. */
  async attachPolicy (owner: Owner, name: string, policy: string): Promise<void> {
    await this.call(`Attach${ownerWord(owner)}Policy`, { [`${ownerWord(owner)}Name`]: name, PolicyArn: policy })
  }

  async detachPolicy (owner: Owner, name: string, policy: string): Promise<void> {
    await this.call(`Detach${ownerWord(owner)}Policy`, { [`${ownerWord(owner)}Name`]: name, PolicyArn: policy })
  }

  async attachedPolicies (owner: Owner, name: string): Promise<string[]> {
    const r = await this.call(`ListAttached${ownerWord(owner)}Policies`, { [`${ownerWord(owner)}Name`]: name })
    return members(r.AttachedPolicies).map(p => text(element(p).PolicyName))
  }

  async inlinePolicies (owner: Owner, name: string): Promise<string[]> {
    const r = await this.call(`List${ownerWord(owner)}Policies`, { [`${ownerWord(owner)}Name`]: name })
    return members(r.PolicyNames).map(text)
  }

  async deleteInlinePolicy (owner: Owner, name: string, policy: string): Promise<void> {
    await this.call(`Delete${ownerWord(owner)}Policy`, { [`${ownerWord(owner)}Name`]: name, PolicyName: policy })
  }

  // Managed policies

  async createPolicy (name: string, document: string): Promise<void> { await this.call('CreatePolicy', { PolicyName: name, PolicyDocument: document }) }
  async deletePolicy (name: string): Promise<void> { await this.call('DeletePolicy', { PolicyArn: name }) }

  async listPolicies (): Promise<IamPolicy[]> {
    const r = await this.call('ListPolicies')
    return members(r.Policies).map(element).map(policyOf)
  }

  async getPolicy (name: string): Promise<IamPolicy> {
    return policyOf(element((await this.call('GetPolicy', { PolicyArn: name })).Policy))
  }

  /** The policy's JSON document as the node keeps it (IAM sends it URL-encoded). */
  async policyDocument (name: string): Promise<string> {
    // s3mesh replaces a policy's document rather than versioning it: v1 is the only version.
    const r = await this.call('GetPolicyVersion', { PolicyArn: name, VersionId: 'v1' })
    return decodeURIComponent(text(element(r.PolicyVersion).Document))
  }
}

function policyOf (p: Element): IamPolicy {
  const arn = text(p.Arn)
  return { name: text(p.PolicyName), arn, builtin: arn.startsWith(BUILTIN_ARN), attachments: Number(text(p.AttachmentCount)) || 0 }
}
