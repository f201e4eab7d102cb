import { useCallback, useEffect, useState } from 'preact/hooks'
import { Clock, KeyRound, Trash2, UserCheck, UserX } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago } from '../format.js'
import {
  call, createAccessKey, deleteUser, listGroups, listPolicies, listUsers, prefixPolicy, temporaryCredentials, userDetail,
  type GroupRow, type PolicyRow, type TemporaryCredentials, type UserDetail,
} from '../iam-api.js'
import { groupArn, userArn } from '../permissions.js'
import { Dialog } from '../parts/dialog.js'
import { policyProblem } from '../parts/policy-editor.js'
import { ShownOnce } from '../parts/shown-once.js'
import { href, navigate } from '../router.js'
import { listBuckets } from '../s3-api.js'
import { Status } from './access-users.js'

/** IAM allows two keys a user, so that one can be replaced without a gap. */
const KEYS_PER_USER = 2

/** One user: enable or disable, keys, policies, groups, temporary credentials, delete. */
export function User ({ name }: { name: string }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const can = session.can
  const arn = userArn(name)
  const [detail, setDetail] = useState<UserDetail>()
  const [enabled, setEnabled] = useState<boolean>()
  const [policies, setPolicies] = useState<PolicyRow[]>([])
  const [groups, setGroups] = useState<GroupRow[]>([])
  const [newKey, setNewKey] = useState<{ accessKeyId: string, secretAccessKey: string }>()
  const [deleting, setDeleting] = useState(false)
  const [deletingKey, setDeletingKey] = useState<string>()

  const refresh = useCallback(async () => {
    try {
      setDetail(await userDetail(session, name))
      setEnabled((await listUsers(session).catch(() => [])).find(u => u.name === name)?.enabled)
    } catch (err) { showError(messageOf(err)) }
  }, [session, name])
  useEffect(() => { setDetail(undefined); setNewKey(undefined); void refresh() }, [refresh])
  useEffect(() => {
    if (can.may('iam:ListPolicies')) listPolicies(session).then(setPolicies, () => {})
    if (can.may('iam:ListGroups')) listGroups(session).then(setGroups, () => {})
  }, [session])

  /** One IAM call, then the page read again; its news or its error shown. */
  const act = async (action: string, params: Record<string, string>, news: string): Promise<void> => {
    try {
      await call(session, action, params)
      showError(undefined)
      notify(news)
    } catch (err) { showError(messageOf(err)) }
    await refresh()
  }
  const setStatus = async (on: boolean): Promise<void> => {
    await act('SetUserStatus', { UserName: name, Status: on ? 'Enabled' : 'Disabled' }, on ? `User ${name} enabled.` : `User ${name} disabled: its keys and temporary credentials stop working.`)
    setEnabled(on)
  }
  const addKey = async (): Promise<void> => {
    try {
      setNewKey(await createAccessKey(session, name))
      showError(undefined)
    } catch (err) { showError(messageOf(err)) }
    await refresh()
  }

  const mayStatus = can.may('iam:SetUserStatus', arn)
  const attachable = policies.filter(p => !(detail?.attached.includes(p.name) ?? true))
  const joinable = groups.filter(g => !(detail?.groups.includes(g.name) ?? true))

  return <section aria-labelledby="user-title">
    <nav aria-label="Breadcrumb"><ul><li><a href={href({ view: 'access', tab: 'users' })}>Users</a></li><li>{name}</li></ul></nav>
    <div class="view-head">
      <h1 id="user-title" tabindex={-1}>{name} <Status enabled={enabled} /></h1>
      <div class="row">
        {mayStatus && enabled !== true && <button type="button" class="secondary outline icon-text" onClick={() => { void setStatus(true) }}><UserCheck size={16} aria-hidden /> Enable user</button>}
        {mayStatus && enabled !== false && <button type="button" class="secondary outline icon-text" onClick={() => { void setStatus(false) }}><UserX size={16} aria-hidden /> Disable user</button>}
        {can.may('iam:DeleteUser', arn) && <button type="button" class="danger outline icon-text" onClick={() => { setDeleting(true) }}><Trash2 size={16} aria-hidden /> Delete user</button>}
      </div>
    </div>
    {enabled === false && <p class="muted">Disabled: its keys and temporary credentials are refused until it is enabled again.</p>}

    {newKey !== undefined && <ShownOnce title={`New key of ${name}`} note="The secret key is shown this once: copy it now. It cannot be read again."
      fields={[{ label: 'Access key', value: newKey.accessKeyId }, { label: 'Secret key', value: newKey.secretAccessKey }]} onDone={() => { setNewKey(undefined) }} />}

    <section aria-labelledby="keys-title">
      <div class="section-head">
        <h2 id="keys-title">Access keys</h2>
        {can.may('iam:CreateAccessKey', arn) && <button type="button" class="secondary small icon-text" disabled={detail === undefined || detail.keys.length >= KEYS_PER_USER}
          title={detail !== undefined && detail.keys.length >= KEYS_PER_USER ? `A user has at most ${KEYS_PER_USER} keys: delete one first` : undefined}
          onClick={() => { void addKey() }}><KeyRound size={16} aria-hidden /> Create access key</button>}
      </div>
      {detail !== undefined && detail.keys.length >= KEYS_PER_USER && can.may('iam:CreateAccessKey', arn) && <p class="muted">A user has at most {KEYS_PER_USER} keys: delete one to create another.</p>}
      {detail?.keys.length === 0 && <p class="muted">No keys: the user cannot sign requests (temporary credentials still work).</p>}
      {detail !== undefined && detail.keys.length > 0 && <div class="table-wrap"><table class="striped" aria-label="Access keys">
        <thead><tr><th scope="col">Access key</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>{detail.keys.map(k => <tr key={k.id}>
          <th scope="row" class="mono">{k.id}</th>
          <td><span class={`badge ${k.active ? 'ok' : 'warn'}`}>{k.active ? 'active' : 'inactive'}</span></td>
          <td><time dateTime={new Date(k.created).toISOString()}>{ago(k.created)}</time></td>
          <td class="actions">
            {can.may('iam:UpdateAccessKey', arn) && <button type="button" class="secondary outline small" onClick={() => { void act('UpdateAccessKey', { UserName: name, AccessKeyId: k.id, Status: k.active ? 'Inactive' : 'Active' }, `Key ${k.id} ${k.active ? 'deactivated' : 'activated'}.`) }}>{k.active ? 'Deactivate' : 'Activate'}</button>}
            {can.may('iam:DeleteAccessKey', arn) && <button type="button" class="secondary outline small danger" aria-label={`Delete key ${k.id}`} onClick={() => { setDeletingKey(k.id) }}><Trash2 size={16} aria-hidden /></button>}
          </td>
        </tr>)}</tbody>
      </table></div>}
    </section>

    <section aria-labelledby="user-policies-title">
      <h2 id="user-policies-title">Policies</h2>
      <PolicyList attached={detail?.attached} inline={detail?.inline}
        onDetach={can.may('iam:DetachUserPolicy', arn) ? p => { void act('DetachUserPolicy', { UserName: name, PolicyArn: p }, `${p} detached from ${name}.`) } : undefined}
        onDeleteInline={can.may('iam:DeleteUserPolicy', arn) ? p => { void act('DeleteUserPolicy', { UserName: name, PolicyName: p }, `Inline policy ${p} of ${name} deleted.`) } : undefined} />
      {can.may('iam:AttachUserPolicy', arn) && attachable.length > 0 && <PickForm id="attach-user-policy" label="Policy to attach" button="Attach policy" options={attachable.map(p => p.name)}
        onPick={p => { void act('AttachUserPolicy', { UserName: name, PolicyArn: p }, `${p} attached to ${name}.`) }} />}
    </section>

    <section aria-labelledby="user-groups-title">
      <h2 id="user-groups-title">Groups</h2>
      {detail !== undefined && detail.groups.length === 0 && <p class="muted">In no group.</p>}
      {detail !== undefined && detail.groups.length > 0 && <ul class="plain-list">{detail.groups.map(g => <li key={g}>
        <a href={href({ view: 'access', tab: 'groups', name: g })}>{g}</a>
        {can.may('iam:RemoveUserFromGroup', groupArn(g)) && <button type="button" class="secondary outline small" aria-label={`Remove ${name} from group ${g}`} onClick={() => { void act('RemoveUserFromGroup', { UserName: name, GroupName: g }, `${name} removed from ${g}.`) }}>Remove</button>}
      </li>)}</ul>}
      {can.mayOnSome('iam:AddUserToGroup') && joinable.length > 0 && <PickForm id="add-to-group" label="Group to add the user to" button="Add to group" options={joinable.map(g => g.name)}
        onPick={g => { void act('AddUserToGroup', { UserName: name, GroupName: g }, `${name} added to ${g}.`) }} />}
    </section>

    {can.may('iam:CreateAccessKey', arn) && <TemporaryCredentialsForm user={name} />}

    {deleting && detail !== undefined && <Dialog title={`Delete user ${name}?`} onClose={() => { setDeleting(false) }}>
      <p>{`Its ${detail.keys.length} access key${detail.keys.length === 1 ? '' : 's'}, ${detail.attached.length + detail.inline.length} polic${detail.attached.length + detail.inline.length === 1 ? 'y' : 'ies'} and ${detail.groups.length} group membership${detail.groups.length === 1 ? '' : 's'} are removed first. Whoever uses its keys loses access at once. This cannot be undone.`}</p>
      <footer>
        <button type="button" class="secondary" onClick={() => { setDeleting(false) }}>Cancel</button>
        <button type="button" class="danger" onClick={() => {
          setDeleting(false)
          deleteUser(session, name).then(() => { notify(`User ${name} deleted.`); navigate({ view: 'access', tab: 'users' }) }, err => { showError(messageOf(err)); void refresh() })
        }}>Delete user</button>
      </footer>
    </Dialog>}
    {deletingKey !== undefined && <Dialog title={`Delete key ${deletingKey}?`} onClose={() => { setDeletingKey(undefined) }}>
      <p>Whatever signs with this key is refused from now on. This cannot be undone.</p>
      <footer>
        <button type="button" class="secondary" onClick={() => { setDeletingKey(undefined) }}>Cancel</button>
        <button type="button" class="danger" onClick={() => { const id = deletingKey; setDeletingKey(undefined); void act('DeleteAccessKey', { UserName: name, AccessKeyId: id }, `Key ${id} deleted.`) }}>Delete key</button>
      </footer>
    </Dialog>}
  </section>
}

/** Managed and inline policies, each with its remove button when the person may. */
export function PolicyList ({ attached, inline, onDetach, onDeleteInline }: { attached: string[] | undefined, inline: string[] | undefined, onDetach: ((p: string) => void) | undefined, onDeleteInline: ((p: string) => void) | undefined }): preact.JSX.Element {
  if (attached === undefined || inline === undefined) return <p aria-busy="true">Reading…</p>
  if (attached.length === 0 && inline.length === 0) return <p class="muted">No policies: no rights beyond what a bucket's own policy gives.</p>
  return <ul class="plain-list">
    {attached.map(p => <li key={p}>
      <a href={href({ view: 'access', tab: 'policies', name: p })}>{p}</a>
      {onDetach !== undefined && <button type="button" class="secondary outline small" aria-label={`Detach policy ${p}`} onClick={() => { onDetach(p) }}>Detach</button>}
    </li>)}
    {inline.map(p => <li key={`inline-${p}`}>
      <span>{p} <span class="muted">(inline)</span></span>
      {onDeleteInline !== undefined && <button type="button" class="secondary outline small" aria-label={`Delete inline policy ${p}`} onClick={() => { onDeleteInline(p) }}>Delete</button>}
    </li>)}
  </ul>
}

/** A select and a button: attach a policy, add to a group. */
export function PickForm ({ id, label, button, options, onPick }: { id: string, label: string, button: string, options: string[], onPick: (v: string) => void }): preact.JSX.Element {
  return <form class="pick" onSubmit={e => { e.preventDefault(); const v = String(new FormData(e.currentTarget).get('pick') ?? ''); if (v !== '') onPick(v) }}>
    <label for={id}>{label}</label>
    <div class="row">
      <select id={id} name="pick">{options.map(o => <option key={o} value={o}>{o}</option>)}</select>
      <button type="submit" class="secondary">{button}</button>
    </div>
  </form>
}

const DURATIONS: Array<[number, string]> = [[900, '15 minutes'], [3600, '1 hour'], [6 * 3600, '6 hours'], [43200, '12 hours']]

/**
 * Temporary credentials for a user (STS), for a while, and, when a bucket is
 * chosen, only for that bucket and prefix (a session policy): shown once.
 */
function TemporaryCredentialsForm ({ user }: { user: string }): preact.JSX.Element {
  const { session, showError } = useConsole()
  const [buckets, setBuckets] = useState<string[]>([])
  const [bucket, setBucket] = useState('')
  const [made, setMade] = useState<{ credentials: TemporaryCredentials, scope: string }>()
  const [busy, setBusy] = useState(false)
  useEffect(() => { listBuckets(session).then(b => { setBuckets(b.map(x => x.name)) }, () => {}) }, [session])
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    const seconds = Number(data.get('duration'))
    const prefix = bucket === '' ? '' : String(data.get('prefix') ?? '').replace(/^\/+/, '')
    const policy = bucket === '' ? undefined : prefixPolicy(bucket, prefix)
    const problem = policy === undefined ? undefined : policyProblem(policy, 'session')
    if (problem !== undefined) { showError(`That bucket and prefix make no valid session policy: ${problem}`); return }
    setBusy(true)
    try {
      const credentials = await temporaryCredentials(session, user, seconds, policy)
      setMade({ credentials, scope: bucket === '' ? `everything ${user} may do` : `what ${user} may do in ${bucket}/${prefix}, and nothing else` })
      showError(undefined)
    } catch (err) { showError(messageOf(err)) }
    setBusy(false)
  }
  return <section aria-labelledby="temp-title">
    <h2 id="temp-title">Temporary credentials</h2>
    <p class="muted">Keys that expire by themselves, for a script or a colleague: they allow what {user} may do, or less (one bucket, one prefix). They work with any S3 client that takes a session token.</p>
    {made !== undefined && <ShownOnce title={`Temporary credentials for ${user}`}
      note={`Shown this once. Valid until ${new Date(made.credentials.expiration).toLocaleString()}, for ${made.scope}.`}
      fields={[
        { label: 'AccessKeyId', value: made.credentials.accessKeyId }, { label: 'SecretAccessKey', value: made.credentials.secretAccessKey },
        { label: 'SessionToken', value: made.credentials.sessionToken }, { label: 'Expiration', value: made.credentials.expiration },
      ]} onDone={() => { setMade(undefined) }} />}
    <form id="temporary-credentials" class="temp-form" onSubmit={e => { void submit(e) }}>
      <label>Valid for
        <select name="duration">{DURATIONS.map(([s, l]) => <option key={s} value={s} selected={s === 3600}>{l}</option>)}</select>
      </label>
      <label>Bucket
        <select name="bucket" value={bucket} onChange={e => { setBucket(e.currentTarget.value) }}>
          <option value="">All the user's buckets</option>
          {buckets.map(b => <option key={b} value={b}>{b}</option>)}
        </select>
      </label>
      <label>Prefix
        <input name="prefix" placeholder="reports/2025/" disabled={bucket === ''} autocomplete="off" aria-describedby="prefix-help" />
      </label>
      <small id="prefix-help" class="muted">{bucket === '' ? 'Choose a bucket to limit the credentials to it, and to a prefix in it.' : `Only keys starting with this, in ${bucket}; empty for the whole bucket.`}</small>
      <button type="submit" class="icon-text" disabled={busy} aria-busy={busy}><Clock size={16} aria-hidden /> Create temporary credentials</button>
    </form>
  </section>
}
