/**
 * `s3mesh admin`: users, policies and groups of a running node, with `mc
 * admin` habits (a user is named by its access key, `--policy readwrite`),
 * spoken through the node's IAM API (iam-client.ts). Exit codes: 0 done,
 * 1 the node refused or could not be reached, 2 a usage error.
 */
import { open } from 'node:fs/promises'
import { Command, CommanderError } from 'commander'
import { CliError } from './cli-error.js'
import { EndpointUnreachableError, IamApiError, IamClient, UnexpectedAnswerError } from './iam-client.js'

interface ConnectionOptions { endpoint: string, accessKey?: string, secretKey?: string, json?: boolean }

/** What every admin action gets: the client, and one way to print (text for people, JSON with --json). */
interface Admin {
  iam: IamClient
  print: (human: string, json: unknown) => void
  usage: string
}

const BUILTIN = 'readonly, readwrite, writeonly, consoleAdmin'

/** What to do about each error the node reports; IAM's message says what went wrong. */
const HINTS: Record<string, string> = {
  SignatureDoesNotMatch: 'The secret key is not the root secret the node was started with: check --secret-key or S3MESH_ROOT_PASSWORD.',
  InvalidClientTokenId: 'The node does not know this access key: check --access-key or S3MESH_ROOT_USER.',
  AccessDenied: 'These credentials may not do this: use the root keys (S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD) or a user with the consoleAdmin policy.',
  NoSuchEntity: 'Check the name: `s3mesh admin user list`, `policy list` and `group list` show what there is.',
  EntityAlreadyExists: 'Choose another name, or remove the existing one first.',
  DeleteConflict: 'Remove what still refers to it first.',
  LimitExceeded: 'Remove one before adding another.',
  MalformedPolicyDocument: 'Fix the policy document and run the command again.',
  ValidationError: 'Check the names and keys given (see --help).',
  MissingParameter: 'Check the names and keys given (see --help).',
  InvalidInput: 'Check the names and keys given (see --help).',
  InvalidParameterValue: 'Check the names and keys given (see --help).',
  InvalidAction: 'The node does not serve this action: it may run an older s3mesh.',
  InternalFailure: 'The node failed; its log may say why. Try again.',
}

function hintFor (err: IamApiError): string {
  if (err.code === 'SignatureDoesNotMatch' && /time/i.test(err.message)) return 'Check this machine\'s clock: it is too far from the node\'s.'
  return HINTS[err.code] ?? 'See the node\'s log for more.'
}

/** Any failure as the message main() prints after `s3mesh: `. */
function explain (err: unknown): unknown {
  if (err instanceof IamApiError) return new CliError(`${err.code}: ${err.message}\n${hintFor(err)}`)
  if (err instanceof EndpointUnreachableError) {
    return new CliError(`Cannot reach ${err.endpoint} (${err.message}). Is the node running there? Give its S3 endpoint with --endpoint URL (the banner's "S3 API" line).`)
  }
  if (err instanceof UnexpectedAnswerError) {
    return new CliError(`${err.message}\nIs ${err.endpoint} the node's S3 endpoint? Give it with --endpoint URL (the banner's "S3 API" line).`)
  }
  return err
}

function connect (opts: ConnectionOptions, env: NodeJS.ProcessEnv, usage: string): IamClient {
  let url: URL | undefined
  try { url = new URL(opts.endpoint) } catch {}
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CliError(`--endpoint must be a URL such as http://127.0.0.1:9000, not "${opts.endpoint}".\n${usage}`, 2)
  }
  // An empty key is none: the next place is asked.
  const accessKeyId = opts.accessKey || env.S3MESH_ROOT_USER || env.AWS_ACCESS_KEY_ID
  const secretAccessKey = opts.secretKey || env.S3MESH_ROOT_PASSWORD || env.AWS_SECRET_ACCESS_KEY
  if (accessKeyId === undefined || secretAccessKey === undefined || accessKeyId === '' || secretAccessKey === '') {
    throw new CliError(`Give the root keys: --access-key and --secret-key, or S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD.\n${usage}`, 2)
  }
  return new IamClient(opts.endpoint, { accessKeyId, secretAccessKey })
}

function usageOf (cmd: Command): string {
  return cmd.helpInformation().split('\n')[0]!
}

/** Runs an action with its connection, turning every failure into a message with a hint. */
async function run (cmd: Command, env: NodeJS.ProcessEnv, action: (admin: Admin) => Promise<void>): Promise<void> {
  const opts = cmd.optsWithGlobals<ConnectionOptions>()
  const usage = usageOf(cmd)
  const print = (human: string, json: unknown): void => {
    process.stdout.write(opts.json === true ? JSON.stringify(json, null, 2) + '\n' : human + '\n')
  }
  try {
    await action({ iam: connect(opts, env, usage), print, usage })
  } catch (err) {
    throw explain(err)
  }
}

/** Runs `step`, giving a refusal with `code` a hint that names the command to run. */
async function hinted<T> (step: Promise<T>, code: string, hint: string): Promise<T> {
  try {
    return await step
  } catch (err) {
    if (err instanceof IamApiError && err.code === code) throw new CliError(`${err.code}: ${err.message}\n${hint}`)
    throw err
  }
}

function table (rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  return rows.map(r => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

const list = (items: string[]): string => items.length === 0 ? '-' : items.join(', ')
const statusWord = (statuses: Map<string, boolean> | undefined, user: string): string => {
  const enabled = statuses?.get(user)
  return enabled === undefined ? '-' : enabled ? 'enabled' : 'disabled'
}

// Users

/** The user named `nameOrKey`, or the one that has it as an access key (mc names users by key). */
async function findUser (iam: IamClient, nameOrKey: string): Promise<string> {
  const users = await iam.listUsers()
  if (users.some(u => u.name === nameOrKey)) return nameOrKey
  for (const u of users) {
    if ((await iam.listAccessKeys(u.name)).some(k => k.id === nameOrKey)) return u.name
  }
  throw new IamApiError('NoSuchEntity', `No user is named ${nameOrKey} or has it as an access key.`, 404)
}

/** IAM deletes only a bare user: its keys, policies and group memberships go first. */
async function removeUser (iam: IamClient, user: string): Promise<void> {
  for (const k of await iam.listAccessKeys(user)) await iam.deleteAccessKey(user, k.id)
  for (const p of await iam.inlinePolicies('user', user)) await iam.deleteInlinePolicy('user', user, p)
  for (const p of await iam.attachedPolicies('user', user)) await iam.detachPolicy('user', user, p)
  for (const g of await iam.groupsOf(user)) await iam.removeUserFromGroup(g, user)
  await iam.deleteUser(user)
}

async function userAdd ({ iam, print }: Admin, accessKey: string, secretKey: string, policies: string[]): Promise<void> {
  await iam.createUser(accessKey)
  try {
    await iam.createAccessKey(accessKey, { id: accessKey, secret: secretKey })
    for (const p of policies) await iam.attachPolicy('user', accessKey, p)
  } catch (err) {
    // Leave nothing half-made: a user without its key, or with only some of its policies.
    const cause = explain(err)
    const undone = await removeUser(iam, accessKey).then(
      () => `User ${accessKey} was not added (the steps already done were undone).`,
      (undoErr: unknown) => `User ${accessKey} is half-made, and undoing it failed too (${undoErr instanceof Error ? undoErr.message : String(undoErr)}): run \`s3mesh admin user remove ${accessKey}\`.`)
    if (!(cause instanceof CliError)) throw cause
    const [what, ...hint] = cause.message.split('\n')
    throw new CliError([what, undone, ...hint].join('\n'), cause.exitCode)
  }
  const which = policies.length === 0 ? `no policy yet, so it may do nothing: attach one (${BUILTIN}) with \`s3mesh admin policy attach NAME --user ${accessKey}\`` : `policy ${policies.join(', ')}`
  print(`Added user ${accessKey} with ${which}.`, { user: accessKey, accessKey, policies })
}

async function describeUser (iam: IamClient, user: string, statuses: Map<string, boolean> | undefined): Promise<{ user: string, status: string, accessKeys: Array<{ id: string, status: string }>, policies: string[], inlinePolicies: string[] }> {
  const [accessKeys, policies, inlinePolicies] = await Promise.all([iam.listAccessKeys(user), iam.attachedPolicies('user', user), iam.inlinePolicies('user', user)])
  return { user, status: statusWord(statuses, user), accessKeys, policies, inlinePolicies }
}

async function userList ({ iam, print }: Admin): Promise<void> {
  const [users, statuses] = await Promise.all([iam.listUsers(), iam.userStatuses()])
  const described = []
  for (const u of users) described.push(await describeUser(iam, u.name, statuses))
  if (described.length === 0) { print('No users yet. Add one: s3mesh admin user add ACCESS_KEY SECRET_KEY --policy readwrite', []); return }
  print(table([['USER', 'STATUS', 'ACCESS KEYS', 'POLICIES'], ...described.map(d => [
    d.user, d.status, list(d.accessKeys.map(k => k.status === 'Active' ? k.id : `${k.id} (inactive)`)), list([...d.policies, ...d.inlinePolicies.map(p => `${p} (inline)`)]),
  ])]), described)
}

async function userInfo ({ iam, print }: Admin, nameOrKey: string): Promise<void> {
  const user = await findUser(iam, nameOrKey)
  const [d, groups] = await Promise.all([iam.userStatuses().then(s => describeUser(iam, user, s)), iam.groupsOf(user)])
  print([
    `User:             ${d.user}`,
    `Status:           ${d.status}`,
    `Access keys:      ${list(d.accessKeys.map(k => `${k.id} (${k.status.toLowerCase()})`))}`,
    `Policies:         ${list(d.policies)}`,
    `Inline policies:  ${list(d.inlinePolicies)}`,
    `Groups:           ${list(groups)}`,
  ].join('\n'), { ...d, groups })
}

async function userRemove ({ iam, print }: Admin, nameOrKey: string): Promise<void> {
  const user = await findUser(iam, nameOrKey)
  await removeUser(iam, user)
  print(`Removed user ${user}, with its access keys, policies and group memberships.`, { user, removed: true })
}

async function userSetStatus ({ iam, print }: Admin, nameOrKey: string, enabled: boolean): Promise<void> {
  const user = await findUser(iam, nameOrKey)
  await iam.setUserStatus(user, enabled)
  print(enabled ? `Enabled user ${user}.` : `Disabled user ${user}: its keys are refused until \`s3mesh admin user enable ${user}\`.`, { user, status: enabled ? 'enabled' : 'disabled' })
}

// Policies

/** Bytes of a policy file read at most: well past IAM's 6,144 characters, short of a device that never ends. */
const MAX_POLICY_FILE = 64 * 1024

async function policyAdd ({ iam, print }: Admin, name: string, file: string): Promise<void> {
  let document: string
  try {
    // Read up to a bound (a device such as /dev/zero never ends): larger than any policy IAM takes is refused.
    const handle = await open(file, 'r')
    const buffer = Buffer.alloc(MAX_POLICY_FILE + 1)
    let length = 0
    try {
      for (let n = -1; n !== 0 && length < buffer.length;) {
        n = (await handle.read(buffer, length, buffer.length - length, null)).bytesRead
        length += n
      }
    } finally {
      await handle.close()
    }
    if (length > MAX_POLICY_FILE) throw new CliError(`The policy file ${file} is longer than ${MAX_POLICY_FILE} bytes; a policy is at most 6,144 characters.`)
    document = buffer.subarray(0, length).toString('utf8')
  } catch (err) {
    if (err instanceof CliError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(`Cannot read the policy file ${file}: ${code === 'ENOENT' ? 'there is no such file' : code ?? String(err)}.`)
  }
  try {
    await iam.createPolicy(name, document)
  } catch (err) {
    if (err instanceof IamApiError && err.code === 'MalformedPolicyDocument') {
      throw new CliError(`MalformedPolicyDocument: ${file}: ${err.message}\nFix ${file} and run the command again.`)
    }
    throw err
  }
  print(`Added policy ${name}. Attach it: s3mesh admin policy attach ${name} --user ACCESS_KEY`, { policy: name })
}

/** `--user ACCESS_KEY` or `--group GROUP`, exactly one. */
async function targetOf ({ iam, usage }: Admin, opts: { user?: string, group?: string }): Promise<{ owner: 'user' | 'group', name: string }> {
  if ((opts.user === undefined) === (opts.group === undefined)) throw new CliError(`Give --user ACCESS_KEY or --group GROUP (one of them).\n${usage}`, 2)
  return opts.user !== undefined ? { owner: 'user', name: await findUser(iam, opts.user) } : { owner: 'group', name: opts.group! }
}

async function policyAttach (admin: Admin, names: string[], opts: { user?: string, group?: string }, attach: boolean): Promise<void> {
  const { owner, name } = await targetOf(admin, opts)
  for (const p of names) await (attach ? admin.iam.attachPolicy(owner, name, p) : admin.iam.detachPolicy(owner, name, p))
  admin.print(`${attach ? 'Attached' : 'Detached'} ${names.join(', ')} ${attach ? 'to' : 'from'} ${owner} ${name}.`, { policies: names, [owner]: name, attached: attach })
}

async function policyList ({ iam, print }: Admin): Promise<void> {
  const policies = await iam.listPolicies()
  print(table([['POLICY', 'TYPE', 'ATTACHED TO'], ...policies.map(p => [p.name, p.builtin ? 'built-in' : 'custom', String(p.attachments)])]), policies)
}

async function policyInfo ({ iam, print }: Admin, name: string): Promise<void> {
  const [policy, text] = await Promise.all([iam.getPolicy(name), iam.policyDocument(name)])
  let document: unknown = text
  try { document = JSON.parse(text) } catch {}
  print(typeof document === 'string' ? document : JSON.stringify(document, null, 2), { ...policy, document })
}

async function policyRemove ({ iam, print }: Admin, name: string): Promise<void> {
  await hinted(iam.deletePolicy(name), 'DeleteConflict', `Detach it first: s3mesh admin policy detach ${name} --user ACCESS_KEY (or --group GROUP).`)
  print(`Removed policy ${name}.`, { policy: name, removed: true })
}

// Groups

async function groupAdd ({ iam, print }: Admin, group: string, keys: string[]): Promise<void> {
  const created = await iam.groupMembers(group) === undefined
  if (created) await iam.createGroup(group)
  const users: string[] = []
  for (const k of keys) users.push(await findUser(iam, k))
  for (const u of users) await iam.addUserToGroup(group, u)
  const did = [created ? `Added group ${group}` : `Group ${group} exists`, ...(users.length === 0 ? [] : [`with ${users.join(', ')} in it`])]
  print(did.join(', ') + '.', { group, created, members: users })
}

async function groupRemove ({ iam, print }: Admin, group: string, keys: string[]): Promise<void> {
  if (keys.length > 0) {
    const users: string[] = []
    for (const k of keys) users.push(await findUser(iam, k))
    for (const u of users) await iam.removeUserFromGroup(group, u)
    print(`Removed ${users.join(', ')} from group ${group}.`, { group, removedMembers: users })
    return
  }
  await hinted(iam.deleteGroup(group), 'DeleteConflict', `Empty it first: s3mesh admin group remove ${group} ACCESS_KEY... and s3mesh admin policy detach NAME --group ${group}.`)
  print(`Removed group ${group}.`, { group, removed: true })
}

async function groupList ({ iam, print }: Admin): Promise<void> {
  const groups = []
  for (const name of await iam.listGroups()) {
    const [members, policies] = await Promise.all([iam.groupMembers(name), iam.attachedPolicies('group', name)])
    groups.push({ group: name, members: members ?? [], policies })
  }
  if (groups.length === 0) { print('No groups yet. Add one: s3mesh admin group add GROUP ACCESS_KEY...', []); return }
  print(table([['GROUP', 'MEMBERS', 'POLICIES'], ...groups.map(g => [g.group, list(g.members), list(g.policies)])]), groups)
}

// The command tree

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** Every command in a tree, the root first. */
function walk (cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(walk)]
}

/** Usage errors exit 2 and end with the command's usage line (the rest is in its --help). */
function usageErrorsExitTwo (root: Command): void {
  for (const cmd of walk(root)) {
    cmd.exitOverride(err => { throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message) })
    cmd.configureOutput({ outputError: (str, write) => { write(`${str}${usageOf(cmd)}\n`) } })
  }
}

export function adminCommand (env: NodeJS.ProcessEnv = process.env): Command {
  const admin = new Command('admin')
    .description('Manage the users, policies and groups of a running node (as `mc admin` does).')
    .option('--endpoint <url>', 'the node\'s S3 endpoint', 'http://127.0.0.1:9000')
    .option('--access-key <key>', 'root access key (default: S3MESH_ROOT_USER or AWS_ACCESS_KEY_ID)')
    .option('--secret-key <key>', 'root secret key (default: S3MESH_ROOT_PASSWORD or AWS_SECRET_ACCESS_KEY)')
    .option('--json', 'print machine-readable JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', `
A user is named by its access key, as in mc; where a command takes
ACCESS_KEY, a user's name or any of its keys will do. Built-in policies:
${BUILTIN}.

Examples:
  s3mesh admin user add alice alice-secret-key --policy readonly
  s3mesh admin policy add photos-writer ./photos-writer.json
  s3mesh admin policy attach photos-writer --user alice
  s3mesh admin user disable alice`)
  const action = (body: (admin: Admin, cmd: Command) => Promise<void>) => async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command
    await run(cmd, env, admin => body(admin, cmd))
  }

  const user = admin.command('user').description('Add, list, inspect, disable, enable and remove users.')
  user.command('add').description('Add a user with this access key and secret key, and attach policies to it.')
    .argument('<ACCESS_KEY>', 'the user\'s name and access key').argument('<SECRET_KEY>', 'its secret key (8 to 128 characters)')
    .option('--policy <name>', `attach this policy (repeat for several; built-in: ${BUILTIN})`, collect)
    .action(action((a, cmd) => userAdd(a, cmd.args[0]!, cmd.args[1]!, cmd.opts<{ policy?: string[] }>().policy ?? [])))
  user.command('list').alias('ls').description('List users: status, access keys, policies.').action(action(a => userList(a)))
  user.command('info').description('Show a user: status, keys, policies, groups.').argument('<ACCESS_KEY>')
    .action(action((a, cmd) => userInfo(a, cmd.args[0]!)))
  user.command('remove').alias('rm').description('Remove a user with its keys, policies and group memberships.').argument('<ACCESS_KEY>')
    .action(action((a, cmd) => userRemove(a, cmd.args[0]!)))
  user.command('disable').description('Refuse every request signed with the user\'s keys.').argument('<ACCESS_KEY>')
    .action(action((a, cmd) => userSetStatus(a, cmd.args[0]!, false)))
  user.command('enable').description('Accept the user\'s keys again.').argument('<ACCESS_KEY>')
    .action(action((a, cmd) => userSetStatus(a, cmd.args[0]!, true)))

  const policy = admin.command('policy').description('Add, attach, detach, list, show and remove policies.')
  policy.command('add').alias('create').description('Add a policy from a JSON policy document.').argument('<NAME>').argument('<FILE>', 'the policy document (IAM JSON)')
    .action(action((a, cmd) => policyAdd(a, cmd.args[0]!, cmd.args[1]!)))
  for (const attach of [true, false]) {
    policy.command(attach ? 'attach' : 'detach').description(attach ? 'Attach policies to a user or a group.' : 'Detach policies from a user or a group.')
      .argument('<NAME...>', 'one or more policy names')
      .option('--user <ACCESS_KEY>', 'the user').option('--group <GROUP>', 'the group')
      .action(action((a, cmd) => policyAttach(a, cmd.args, cmd.opts<{ user?: string, group?: string }>(), attach)))
  }
  policy.command('list').alias('ls').description('List policies, built-in and custom.').action(action(a => policyList(a)))
  policy.command('info').description('Print a policy\'s document.').argument('<NAME>').action(action((a, cmd) => policyInfo(a, cmd.args[0]!)))
  policy.command('remove').alias('rm').description('Remove a policy (detach it first).').argument('<NAME>').action(action((a, cmd) => policyRemove(a, cmd.args[0]!)))

  const group = admin.command('group').description('Add, list and remove groups and their members.')
  group.command('add').description('Add a group (if new) and users to it.').argument('<GROUP>').argument('[ACCESS_KEY...]', 'users to add to it')
    .action(action((a, cmd) => groupAdd(a, cmd.args[0]!, cmd.args.slice(1))))
  group.command('remove').alias('rm').description('Remove users from a group or, given none, the group (it must be empty).').argument('<GROUP>').argument('[ACCESS_KEY...]', 'users to remove from it')
    .action(action((a, cmd) => groupRemove(a, cmd.args[0]!, cmd.args.slice(1))))
  group.command('list').alias('ls').description('List groups, their members and policies.').action(action(a => groupList(a)))

  usageErrorsExitTwo(admin)
  return admin
}
