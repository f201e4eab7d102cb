/**
 * Users, policies, STS and public buckets, with real clients against three
 * real `s3mesh server` processes in one mesh: aws-cli (`aws iam`, `aws sts`,
 * `aws s3`), boto3, curl-like anonymous fetches. Every user is made through
 * one node and used through another, so each test also checks that the
 * access state reached every member.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { s3Signer } from '../../src/core/s3-signer.js'
import { AWS_UNSET, awsCliEnv, describeClient, makeFixtures, run, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, metric, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const AWS = '/usr/bin/aws'
const PYTHON = '/usr/bin/python3'

interface Key { AccessKeyId: string, SecretAccessKey: string }

describeClient('access: users, policies, STS, public buckets', AWS, 'apt-get install awscli', () => {
  const nodes: ServerProcess[] = []
  let fx: Fixtures
  let rootEnv: NodeJS.ProcessEnv
  const clusterKey = randomBytes(32).toString('base64')

  /** aws-cli against node `i`, as root unless other credentials are given; rejects on a non-zero exit. */
  const aws = async (i: number, args: string[], creds?: Key & { SessionToken?: string }): Promise<string> => {
    const env = creds === undefined ? rootEnv : { ...rootEnv, AWS_ACCESS_KEY_ID: creds.AccessKeyId, AWS_SECRET_ACCESS_KEY: creds.SecretAccessKey, ...(creds.SessionToken === undefined ? {} : { AWS_SESSION_TOKEN: creds.SessionToken }) }
    return (await run(AWS, ['--endpoint-url', nodes[i]!.url, ...args], env, { unset: AWS_UNSET })).stdout
  }
  /** The error aws-cli printed for a call that must fail. */
  const awsFails = async (i: number, args: string[], creds?: Key & { SessionToken?: string }): Promise<string> => {
    try {
      await aws(i, args, creds)
    } catch (err) {
      return (err as Error).message
    }
    assert.fail(`aws ${args.join(' ')} succeeded; it should have been refused`)
  }
  const newUser = async (name: string, policy?: { inline?: string, attach?: string }): Promise<Key> => {
    await aws(0, ['iam', 'create-user', '--user-name', name])
    if (policy?.inline !== undefined) await aws(0, ['iam', 'put-user-policy', '--user-name', name, '--policy-name', 'p', '--policy-document', policy.inline])
    if (policy?.attach !== undefined) await aws(0, ['iam', 'attach-user-policy', '--user-name', name, '--policy-arn', `arn:aws:iam::aws:policy/${policy.attach}`])
    return (JSON.parse(await aws(0, ['iam', 'create-access-key', '--user-name', name])) as { AccessKey: Key }).AccessKey
  }
  /** Waits until node `i` accepts a user's key (the access state gossiped there). */
  const knownOn = async (i: number, key: Key): Promise<void> => {
    await until(`node ${i} knows ${key.AccessKeyId}`, async () => (await aws(i, ['sts', 'get-caller-identity'], key).then(() => true, () => false)), 10_000)
  }

  before(async () => {
    fx = await makeFixtures()
    rootEnv = await awsCliEnv(fx.dir)
    const env = { S3MESH_CLUSTER_KEY: clusterKey, S3MESH_STS_MIN_SECONDS: '1' }
    nodes.push(await startServerProcess({ env, args: ['--membership', 'local'] }))
    for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: ['--membership', 'local', '--join', nodes[0]!.meshAddress!] }))
    await aws(0, ['s3', 'mb', 's3://shared'])
    await aws(0, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/home/bob/notes.txt'])
    await aws(0, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/readme.txt'])
  })
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    await fx?.cleanup()
  })

  it('aws iam creates a user, a key and an inline policy, lists them, and deletes them', async () => {
    const user = JSON.parse(await aws(0, ['iam', 'create-user', '--user-name', 'carol'])) as { User: { UserName: string, Arn: string } }
    assert.equal(user.User.UserName, 'carol')
    assert.match(await awsFails(1, ['iam', 'create-user', '--user-name', 'carol']), /EntityAlreadyExists/)
    const key = (JSON.parse(await aws(0, ['iam', 'create-access-key', '--user-name', 'carol'])) as { AccessKey: Key }).AccessKey
    assert.match(key.AccessKeyId, /^AKIA/)
    await aws(0, ['iam', 'put-user-policy', '--user-name', 'carol', '--policy-name', 'read', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' }] })])
    const got = JSON.parse(await aws(0, ['iam', 'get-user-policy', '--user-name', 'carol', '--policy-name', 'read'])) as { PolicyDocument: { Statement: Array<{ Action: string }> } }
    assert.equal(got.PolicyDocument.Statement[0]!.Action, 's3:GetObject', 'the document comes back as JSON')
    const bad = await awsFails(0, ['iam', 'put-user-policy', '--user-name', 'carol', '--policy-name', 'bad', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }] })])
    assert.match(bad, /MalformedPolicyDocument/)
    assert.match(bad, /Statement 1: exactly one of Resource and NotResource/)
    const users = JSON.parse(await aws(1, ['iam', 'list-users'])) as { Users: Array<{ UserName: string }> }
    assert.ok(users.Users.some(u => u.UserName === 'carol'), 'another node lists the user')
    assert.match(await awsFails(0, ['iam', 'delete-user', '--user-name', 'carol']), /DeleteConflict/)
    await aws(0, ['iam', 'delete-user-policy', '--user-name', 'carol', '--policy-name', 'read'])
    await aws(0, ['iam', 'delete-access-key', '--user-name', 'carol', '--access-key-id', key.AccessKeyId])
    await aws(0, ['iam', 'delete-user', '--user-name', 'carol'])
    assert.match(await awsFails(0, ['iam', 'get-user', '--user-name', 'carol']), /NoSuchEntity/)
  })

  it('a managed policy attached to a group reaches its members; a new version changes their rights at once', async () => {
    const key = await newUser('erin')
    const readDoc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' }] })
    const created = JSON.parse(await aws(0, ['iam', 'create-policy', '--policy-name', 'shared-read', '--policy-document', readDoc])) as { Policy: { Arn: string } }
    await aws(0, ['iam', 'create-group', '--group-name', 'readers'])
    await aws(0, ['iam', 'attach-group-policy', '--group-name', 'readers', '--policy-arn', created.Policy.Arn])
    await knownOn(2, key)
    assert.match(await awsFails(2, ['s3', 'cp', 's3://shared/readme.txt', '-'], key), /403|Forbidden/, 'precondition: not in the group yet')
    await aws(0, ['iam', 'add-user-to-group', '--group-name', 'readers', '--user-name', 'erin'])
    await until('node 2 lets the group member read', async () => await aws(2, ['s3', 'cp', 's3://shared/readme.txt', '-'], key).then(t => t === fx.smallText, () => false), 10_000)
    const groups = JSON.parse(await aws(1, ['iam', 'list-groups-for-user', '--user-name', 'erin'])) as { Groups: Array<{ GroupName: string }> }
    assert.deepEqual(groups.Groups.map(g => g.GroupName), ['readers'])
    const denyDoc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/home/*' }] })
    await aws(0, ['iam', 'create-policy-version', '--policy-arn', created.Policy.Arn, '--policy-document', denyDoc, '--set-as-default'])
    await until('node 2 applies the new version', async () => /403|Forbidden/.test(await awsFails(2, ['s3', 'cp', 's3://shared/readme.txt', '-'], key).catch(() => '')), 10_000)
    const attached = JSON.parse(await aws(0, ['iam', 'list-attached-group-policies', '--group-name', 'readers'])) as { AttachedPolicies: Array<{ PolicyName: string }> }
    assert.deepEqual(attached.AttachedPolicies.map(p => p.PolicyName), ['shared-read'], 'still attached')
  })

  it('a readonly user gets and lists, and is refused PUT and DELETE, with aws-cli and boto3', async () => {
    const key = await newUser('reader', { attach: 'readonly' })
    await knownOn(2, key)
    assert.equal(await aws(2, ['s3', 'cp', 's3://shared/readme.txt', '-'], key), fx.smallText)
    assert.match(await aws(2, ['s3', 'ls', 's3://shared/'], key), /readme\.txt/)
    const deniedBefore = await metric(nodes[2]!, 's3mesh_access_denied_total')
    assert.match(await awsFails(2, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/new.txt'], key), /AccessDenied/)
    assert.equal(await metric(nodes[2]!, 's3mesh_access_denied_total'), deniedBefore + 1, 'the refusal is counted on /metrics')
    assert.ok(await metric(nodes[2]!, 's3mesh_access_users') >= 1)
    assert.match(await awsFails(1, ['s3', 'rm', 's3://shared/readme.txt'], key), /AccessDenied/)
    if (existsSync('/usr/lib/python3/dist-packages/boto3')) {
      const script = `
import sys, boto3, botocore
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name='us-east-1', config=Config(retries={'max_attempts': 1}, s3={'addressing_style': 'path'}))
assert s3.get_object(Bucket='shared', Key='readme.txt')['Body'].read().decode() == sys.argv[4]
try:
    s3.put_object(Bucket='shared', Key='boto.txt', Body=b'x')
    print('PUT allowed')
except botocore.exceptions.ClientError as e:
    print('PUT', e.response['Error']['Code'])
`
      const { stdout } = await run(PYTHON, ['-c', script, nodes[1]!.url, key.AccessKeyId, key.SecretAccessKey, fx.smallText], {}, { unset: AWS_UNSET })
      assert.equal(stdout.trim(), 'PUT AccessDenied')
    }
    // The object it could not write does not exist.
    assert.match(await awsFails(0, ['s3api', 'head-object', '--bucket', 'shared', '--key', 'new.txt']), /404|Not Found/)
  })

  it('a user limited to home/${aws:username}/ works in its prefix only, and lists only it', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::shared/home/${aws:username}/*' },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::shared', Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } } },
      ],
    })
    const key = await newUser('alice', { inline: policy })
    await knownOn(1, key)
    await aws(1, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/home/alice/mine.txt'], key)
    assert.equal(await aws(2, ['s3', 'cp', 's3://shared/home/alice/mine.txt', '-'], key), fx.smallText)
    assert.match(await aws(1, ['s3', 'ls', 's3://shared/home/alice/'], key), /mine\.txt/)
    assert.match(await awsFails(1, ['s3', 'cp', 's3://shared/home/bob/notes.txt', '-'], key), /403|Forbidden|AccessDenied/)
    assert.match(await awsFails(1, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/home/bob/theirs.txt'], key), /AccessDenied/)
    assert.match(await awsFails(1, ['s3', 'ls', 's3://shared/'], key), /AccessDenied/)
    assert.match(await awsFails(1, ['s3', 'ls', 's3://shared/home/bob/'], key), /AccessDenied/)
    // ListBuckets shows the bucket its policy names, and not the others.
    await aws(0, ['s3', 'mb', 's3://unrelated'])
    const buckets = await aws(1, ['s3', 'ls'], key)
    assert.match(buckets, /shared/)
    assert.doesNotMatch(buckets, /unrelated/)

    // A presigned URL made by the user carries the user's rights.
    const mine = (await aws(0, ['s3', 'presign', 's3://shared/home/alice/mine.txt'], key)).trim()
    const theirs = (await aws(0, ['s3', 'presign', 's3://shared/home/bob/notes.txt'], key)).trim()
    assert.equal((await fetch(mine)).status, 200)
    const refused = await fetch(theirs)
    assert.equal(refused.status, 403)
    assert.match(await refused.text(), /<Code>AccessDenied<\/Code>/)
  })

  it('STS credentials work with the user\'s rights narrowed by a session policy, then get ExpiredToken', async () => {
    const key = await newUser('webapp', { attach: 'readwrite' })
    await knownOn(2, key)
    const session = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::shared/visitors/v1/*' }] })
    // aws-cli refuses DurationSeconds under 900 before sending; boto3 without parameter validation asks for 25 s (the node allows 1 s and up for this test).
    const script = `
import sys, json, boto3
from botocore.config import Config
sts = boto3.client('sts', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name='us-east-1', config=Config(retries={'max_attempts': 1}, parameter_validation=False))
c = sts.assume_role(RoleArn='arn:aws:iam::000000000000:role/visitor', RoleSessionName='v1', DurationSeconds=25, Policy=sys.argv[4])['Credentials']
print(json.dumps({'AccessKeyId': c['AccessKeyId'], 'SecretAccessKey': c['SecretAccessKey'], 'SessionToken': c['SessionToken'], 'Expiration': c['Expiration'].isoformat()}))
`
    const creds = JSON.parse((await run(PYTHON, ['-c', script, nodes[2]!.url, key.AccessKeyId, key.SecretAccessKey, session], {}, { unset: AWS_UNSET })).stdout) as Key & { SessionToken: string, Expiration: string }
    assert.match(creds.AccessKeyId, /^ASIA/)
    // Issued by node 2, used on node 0 at once: the token carries its own credentials.
    await aws(0, ['s3', 'cp', '--no-progress', fx.small, 's3://shared/visitors/v1/upload.txt'], creds)
    assert.equal(await aws(1, ['s3', 'cp', 's3://shared/visitors/v1/upload.txt', '-'], creds), fx.smallText)
    assert.match(await awsFails(0, ['s3', 'cp', 's3://shared/readme.txt', '-'], creds), /403|Forbidden/, 'the session policy narrows readwrite')
    const identity = JSON.parse(await aws(0, ['sts', 'get-caller-identity'], creds)) as { Arn: string }
    assert.match(identity.Arn, /user\/webapp$/)
    // A presigned URL made with temporary credentials carries the token, and the session's rights.
    const presigned = (await aws(1, ['s3', 'presign', 's3://shared/visitors/v1/upload.txt'], creds)).trim()
    assert.match(presigned, /X-Amz-Security-Token=/)
    assert.equal(await (await fetch(presigned)).text(), fx.smallText)
    assert.equal((await fetch((await aws(1, ['s3', 'presign', 's3://shared/readme.txt'], creds)).trim())).status, 403)
    // A tampered token is refused.
    assert.match(await awsFails(0, ['s3', 'ls', 's3://shared/visitors/'], { ...creds, SessionToken: creds.SessionToken.slice(0, -4) + 'AAAA' }), /InvalidToken|403|400/)
    const left = Date.parse(creds.Expiration) - Date.now()
    await new Promise(resolve => setTimeout(resolve, Math.max(0, left) + 500))
    assert.match(await awsFails(0, ['s3', 'cp', 's3://shared/visitors/v1/upload.txt', '-'], creds), /ExpiredToken|400/)
    const expired = await awsFails(0, ['s3api', 'list-objects-v2', '--bucket', 'shared', '--prefix', 'visitors/v1/'], creds)
    assert.match(expired, /ExpiredToken/)

    // A session for a user disabled later stops working.
    const fresh = (JSON.parse(await aws(2, ['sts', 'assume-role', '--role-arn', 'arn:aws:iam::000000000000:role/visitor', '--role-session-name', 'v2', '--duration-seconds', '900'], key)) as { Credentials: Key & { SessionToken: string } }).Credentials
    assert.match(await aws(0, ['s3', 'ls', 's3://shared/'], fresh), /readme\.txt/)
    await aws(0, ['iam', 'delete-access-key', '--user-name', 'webapp', '--access-key-id', key.AccessKeyId])
    await aws(0, ['iam', 'detach-user-policy', '--user-name', 'webapp', '--policy-arn', 'arn:aws:iam::aws:policy/readwrite'])
    await aws(0, ['iam', 'delete-user', '--user-name', 'webapp'])
    await until('node 2 refuses the deleted user\'s session', async () => (await awsFails(2, ['s3', 'ls', 's3://shared/'], fresh).then(m => /InvalidToken/.test(m), () => false)), 10_000)
  })

  it('a public-read bucket answers anonymous GET and listing, refuses anonymous PUT; a bucket policy can allow GET only', async () => {
    await aws(0, ['s3', 'mb', 's3://public-site'])
    await aws(0, ['s3', 'cp', '--no-progress', fx.small, 's3://public-site/index.html'])
    const anonymous = async (i: number, path: string, init?: RequestInit): Promise<number> => (await fetch(`${nodes[i]!.url}${path}`, init)).status
    assert.equal(await anonymous(1, '/public-site/index.html'), 403, 'private until the ACL says otherwise')
    await aws(0, ['s3api', 'put-bucket-acl', '--bucket', 'public-site', '--acl', 'public-read'])
    await until('node 1 serves the public object anonymously', async () => await anonymous(1, '/public-site/index.html') === 200, 10_000)
    assert.equal(await (await fetch(`${nodes[2]!.url}/public-site/index.html`)).text(), fx.smallText)
    assert.equal(await anonymous(2, '/public-site/new.html', { method: 'PUT', body: 'x' }), 403)
    assert.equal(await anonymous(2, '/public-site?list-type=2'), 200, 'public-read lists')
    assert.equal(await anonymous(2, '/'), 403, 'ListBuckets is never anonymous')
    const acl = JSON.parse(await aws(1, ['s3api', 'get-bucket-acl', '--bucket', 'public-site'])) as { Grants: Array<{ Grantee: { URI?: string }, Permission: string }> }
    assert.ok(acl.Grants.some(g => g.Grantee.URI?.endsWith('/AllUsers') === true && g.Permission === 'READ'))
    assert.equal((JSON.parse(await aws(1, ['s3api', 'get-bucket-policy-status', '--bucket', 'public-site'])) as { PolicyStatus: { IsPublic: boolean } }).PolicyStatus.IsPublic, true)

    // Back to private; a bucket policy that lets anyone GET (not list).
    await aws(0, ['s3api', 'put-bucket-acl', '--bucket', 'public-site', '--acl', 'private'])
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'PublicGet', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::public-site/*' }] })
    const file = join(fx.dir, 'policy.json')
    await writeFile(file, policy)
    await aws(0, ['s3api', 'put-bucket-policy', '--bucket', 'public-site', '--policy', `file://${file}`])
    assert.deepEqual(JSON.parse((JSON.parse(await aws(2, ['s3api', 'get-bucket-policy', '--bucket', 'public-site'])) as { Policy: string }).Policy), JSON.parse(policy))
    await until('node 2 has the policy and not the ACL', async () => await anonymous(2, '/public-site/index.html') === 200 && await anonymous(2, '/public-site?list-type=2') === 403, 10_000)
    const badPolicy = await awsFails(0, ['s3api', 'put-bucket-policy', '--bucket', 'public-site', '--policy', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::public-site/*' }] })])
    assert.match(badPolicy, /MalformedPolicy/)
    assert.match(badPolicy, /exactly one of Principal and NotPrincipal/)
    assert.equal(await anonymous(0, '/public-site/index.html'), 200, 'the refused policy changed nothing')
    await aws(0, ['s3api', 'delete-bucket-policy', '--bucket', 'public-site'])
    await until('private again everywhere', async () => (await Promise.all([0, 1, 2].map(async i => await anonymous(i, '/public-site/index.html')))).every(s => s === 403), 10_000)
    assert.match(await awsFails(0, ['s3api', 'get-bucket-policy', '--bucket', 'public-site']), /NoSuchBucketPolicy/)
  })

  it('a member that was down while users changed catches up when it comes back (anti-entropy)', async () => {
    const down = nodes[1]!
    await down.stop({ remove: false })
    const key = await newUser('latecomer', { attach: 'readonly' })
    // Precondition: what the stopped node kept does not have the user (gossip cannot bring it: it was sent before the node came back).
    assert.doesNotMatch(await readFile(join(down.dataDir, '.s3mesh', 'access.json'), 'utf8'), /latecomer/)
    nodes[1] = await startServerProcess({ dataDir: down.dataDir, env: { S3MESH_CLUSTER_KEY: clusterKey, S3MESH_STS_MIN_SECONDS: '1' }, args: ['--membership', 'local', '--join', nodes[0]!.meshAddress!] })
    await knownOn(1, key)
    await until('the node saved what it caught up on', async () => /latecomer/.test(await readFile(join(down.dataDir, '.s3mesh', 'access.json'), 'utf8')), 5_000)
  })

  it('a user disabled on node 0 is refused by node 2; enabled again it works; the state survives a restart, 0600', async () => {
    const key = await newUser('dave', { attach: 'readonly' })
    await knownOn(2, key)
    const refusedOn2 = async (): Promise<boolean> => /InvalidAccessKeyId/.test(await awsFails(2, ['s3', 'ls', 's3://shared/'], key).catch(() => ''))
    assert.equal(await refusedOn2(), false, 'precondition: node 2 accepts the key')
    await aws(0, ['iam', 'update-access-key', '--user-name', 'dave', '--access-key-id', key.AccessKeyId, '--status', 'Inactive'])
    await until('node 2 refuses the inactive key', refusedOn2, 5_000)
    await aws(0, ['iam', 'update-access-key', '--user-name', 'dave', '--access-key-id', key.AccessKeyId, '--status', 'Active'])
    await knownOn(2, key)

    // Disabling the user (s3mesh's SetUserStatus, as `s3mesh admin user disable` sends it) does the same for every key it has.
    const iam = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'iam')
    const setStatus = async (status: string): Promise<void> => {
      const res = await iam.fetch(`${nodes[0]!.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=SetUserStatus&UserName=dave&Status=${status}&Version=2010-05-08` })
      assert.equal(res.status, 200, await res.text())
    }
    await setStatus('Disabled')
    await until('node 2 refuses the disabled user', refusedOn2, 5_000)
    await setStatus('Enabled')
    await knownOn(2, key)

    // Restart node 2 on its data folder: the users come back from its 0600 file.
    const old = nodes[2]!
    await old.stop({ remove: false })
    const mode = (await stat(join(old.dataDir, '.s3mesh', 'access.json'))).mode & 0o777
    assert.equal(mode, 0o600)
    nodes[2] = await startServerProcess({ dataDir: old.dataDir, args: ['--no-mesh'] })
    assert.match(await aws(2, ['s3', 'ls', 's3://shared/'], key), /readme\.txt/, 'alone after a restart, the node still knows the user')
    const saved = await readFile(join(old.dataDir, '.s3mesh', 'access.json'), 'utf8')
    assert.ok(saved.includes(key.SecretAccessKey), 'the secret is kept (in the 0600 file only)')
  })
})
