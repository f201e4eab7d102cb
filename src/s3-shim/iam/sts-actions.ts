/**
 * STS at the S3 endpoint, as MinIO serves it: AssumeRole gives the caller
 * temporary credentials with its own rights, narrowed by an optional session
 * policy. RoleArn and RoleSessionName are accepted and not used (a mesh has
 * no roles). GetCallerIdentity says who signed.
 */
import { MESH_ACCOUNT, userArn } from '../../core/access/access-control.js'
import { checkPolicy, newId, newSecret } from '../../core/access/access-admin.js'
import { IamError } from '../../core/access/iam-error.js'
import { POLICY_SIZE_LIMITS } from '../../core/access/policy.js'
import type { ActionHandler } from './iam-actions.js'

/** DurationSeconds as AWS bounds it; one hour unless asked. */
export const STS_DURATION = { min: 900, max: 43200, default: 3600 } as const

export const STS_ACTIONS: Record<string, ActionHandler> = {
  AssumeRole: async call => {
    let p = call.principal
    if (p.kind === 'anonymous') throw new IamError('AccessDenied', 'AssumeRole needs a signed request.')
    // s3mesh's extension: credentials for another user (the console's "temporary credentials"), for whoever may make that user keys.
    const forUser = call.params.get('UserName')
    if (forUser !== null && forUser !== '' && !(p.kind === 'user' && p.user.name === forUser)) {
      call.allow('CreateAccessKey', userArn(forUser), 'iam')
      const user = call.admin.user(forUser)
      if (!user.enabled) throw new IamError('ValidationError', `User ${forUser} is disabled.`)
      p = { kind: 'user', accessKeyId: '', user }
    }
    if (p.session !== undefined) throw new IamError('AccessDenied', 'Temporary credentials cannot assume a role: call AssumeRole with the user\'s own access key.')
    const text = call.params.get('DurationSeconds')
    const seconds = text === null ? STS_DURATION.default : /^\d+$/.test(text) ? Number(text) : NaN
    const min = call.access.sessionMinSeconds
    if (!(seconds >= min && seconds <= STS_DURATION.max)) {
      throw new IamError('ValidationError', `DurationSeconds must be between ${min} and ${STS_DURATION.max} (got ${text}).`)
    }
    const asked = call.params.get('Policy') ?? undefined
    if (asked !== undefined && asked.length > POLICY_SIZE_LIMITS.session) throw new IamError('PackedPolicyTooLarge', `The session policy is ${asked.length} characters; at most ${POLICY_SIZE_LIMITS.session}.`)
    const policy = asked === undefined ? undefined : checkPolicy(asked, 'session')
    const tokens = call.access.tokens
    if (tokens === undefined) throw new IamError('InvalidAction', 'This endpoint cannot issue temporary credentials.')
    const accessKeyId = newId('ASIA')
    const secretAccessKey = newSecret()
    const expires = call.now + seconds * 1000
    const user = p.kind === 'user' ? p.user.name : undefined
    // Minted for another user (UserName), no key of theirs asked for it: only that user's state ends it.
    const sourceKey = p.kind === 'user' && p.accessKeyId !== '' ? { sourceKey: p.accessKeyId } : {}
    const sessionToken = await tokens.issue({
      accessKeyId, secretAccessKey, expires, issued: call.now, ...sourceKey,
      ...(user === undefined ? {} : { user }), ...(p.kind === 'user' ? { userId: p.user.id } : {}), ...(policy === undefined ? {} : { policy }),
    })
    const session = call.params.get('RoleSessionName') ?? 's3mesh'
    return {
      Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: secretAccessKey, SessionToken: sessionToken, Expiration: new Date(expires).toISOString() },
      AssumedRoleUser: { Arn: `arn:aws:sts::${MESH_ACCOUNT}:assumed-role/${user ?? 'root'}/${session}`, AssumedRoleId: `${p.kind === 'user' ? p.user.id : MESH_ACCOUNT}:${session}` },
    }
  },
  GetCallerIdentity: async call => {
    const p = call.principal
    if (p.kind === 'anonymous') throw new IamError('AccessDenied', 'GetCallerIdentity needs a signed request.')
    return {
      UserId: p.kind === 'user' ? p.user.id : MESH_ACCOUNT,
      Account: MESH_ACCOUNT,
      Arn: p.kind === 'user' ? userArn(p.user.name) : `arn:aws:iam::${MESH_ACCOUNT}:root`,
    }
  },
}
