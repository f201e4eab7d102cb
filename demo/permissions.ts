/**
 * What the person logged in may do, decided in the page by the same
 * evaluate() the node runs, from the policies `GET /_s3mesh/v1/access/me`
 * names: the console shows only the controls that can succeed. Root may do
 * everything. Rights that only a bucket's policy grants are not seen here
 * (a user cannot read bucket policies); the node decides either way.
 */
import { MESH_ACCOUNT } from '../src/core/access/access-control.js'
import { evaluate } from '../src/core/access/evaluate.js'
import { parsePolicy, type Policy } from '../src/core/access/policy.js'
import { actionMatches } from '../src/core/access/policy-match.js'

/** What `GET /_s3mesh/v1/access/me` answers. */
export interface WhoAmI {
  kind: 'root' | 'user'
  user?: string
  /** The identity policies in force (JSON documents); none for root, which may do everything. */
  policies: string[]
  groups: string[]
  expires?: string
}

export const bucketArn = (bucket: string): string => `arn:aws:s3:::${bucket}`
/** Every key under `prefix` in `bucket`, as one resource: what a toolbar's upload or delete may touch. */
export const objectsArn = (bucket: string, prefix = ''): string => `arn:aws:s3:::${bucket}/${prefix}*`
export const objectArn = (bucket: string, key: string): string => `arn:aws:s3:::${bucket}/${key}`
export const userArn = (name: string): string => `arn:aws:iam::${MESH_ACCOUNT}:user/${name}`
export const groupArn = (name: string): string => `arn:aws:iam::${MESH_ACCOUNT}:group/${name}`
export const policyArn = (name: string): string => `arn:aws:iam::${MESH_ACCOUNT}:policy/${name}`

/** The IAM calls that make the Access section worth showing: any one of them. */
const ACCESS_ACTIONS = ['iam:ListUsers', 'iam:ListGroups', 'iam:ListPolicies']

export class Permissions {
  private readonly identity: Policy[]

  constructor (readonly who: WhoAmI) {
    // A document the node keeps is valid; one that would not parse here grants nothing here (the node still decides).
    this.identity = who.policies.flatMap(doc => { try { return [parsePolicy(doc, 'identity')] } catch { return [] } })
  }

  get root (): boolean { return this.who.kind === 'root' }

  /** Whether this person may do `action` on `resource` (an ARN; `*` for account-wide actions). */
  may (action: string, resource = '*'): boolean {
    if (this.root) return true
    const user = this.who.user ?? ''
    return evaluate({ identity: this.identity }, {
      caller: { kind: 'user', arn: userArn(user) }, action, resource, context: { 'aws:username': user },
    }) === 'allow'
  }

  /**
   * Whether some statement allows `action` on some resource: for a control
   * whose resource is not known yet (a bucket to be named), shown when it
   * may succeed for some name.
   */
  mayOnSome (action: string): boolean {
    if (this.root) return true
    return this.identity.some(p => p.statements.some(s => s.effect === 'Allow' &&
      (s.actions !== undefined ? s.actions.some(a => actionMatches(a, action)) : !(s.notActions ?? []).some(a => actionMatches(a, action)))))
  }

  /** Whether the Access section has anything this person may see. */
  get manageAccess (): boolean { return ACCESS_ACTIONS.some(a => this.may(a)) }

  /** Whether the mesh's members and figures are this person's to see. */
  get serverInfo (): boolean { return this.may('admin:ServerInfo') }

  /** Whether a bucket's settings page has anything this person may change. */
  bucketSettings (bucket: string): boolean {
    return ['s3:PutBucketCORS', 's3:PutBucketAcl', 's3:PutBucketPolicy', 's3:PutBucketVersioning'].some(a => this.may(a, bucketArn(bucket)))
  }
}
