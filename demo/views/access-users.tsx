import { useCallback, useEffect, useState } from 'preact/hooks'
import { UserPlus, Users as UsersIcon } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago } from '../format.js'
import { call, createAccessKey, listPolicies, listUsers, userDetail, type PolicyRow, type UserDetail, type UserRow } from '../iam-api.js'
import { ShownOnce } from '../parts/shown-once.js'
import { href } from '../router.js'

/** What each built-in policy lets a user do, in a line. */
export const BUILTIN_SUMMARY: Record<string, string> = {
  readonly: 'read and list every bucket',
  readwrite: 'read, write and delete in every bucket',
  writeonly: 'upload only',
  consoleAdmin: 'everything, users and the mesh included',
}

const NAME_RULE = '1 to 64 letters, digits or + = , . @ _ - characters.'

/** The users: a table (status, keys, policies, groups) and a form that creates one with a key shown once. */
export function Users (): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const can = session.can
  const [rows, setRows] = useState<Array<UserRow & { detail?: UserDetail }>>()
  const [policies, setPolicies] = useState<PolicyRow[]>([])
  const [created, setCreated] = useState<{ user: string, accessKeyId: string, secretAccessKey: string }>()
  const [busy, setBusy] = useState(false)

  const refresh = useCallback(async () => {
    try {
      const users = await listUsers(session)
      setRows(users)
      // Each user's keys, policies and groups, as they come.
      const details = await Promise.all(users.map(async u => await userDetail(session, u.name).catch(() => undefined)))
      setRows(users.map((u, i) => ({ ...u, ...(details[i] === undefined ? {} : { detail: details[i] }) })))
    } catch (err) { showError(messageOf(err)) }
  }, [session])
  useEffect(() => { void refresh() }, [refresh])
  useEffect(() => {
    if (can.may('iam:ListPolicies')) listPolicies(session).then(setPolicies, err => { showError(messageOf(err)) })
  }, [session])

  const mayCreate = can.mayOnSome('iam:CreateUser') && can.mayOnSome('iam:CreateAccessKey')
  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const name = String(data.get('name')).trim()
    const attach = data.getAll('policy').map(String)
    setBusy(true)
    let exists = false
    try {
      await call(session, 'CreateUser', { UserName: name })
      // The user exists from here: a failure below leaves it, without keys or with fewer policies, and says so.
      exists = true
      for (const p of attach) await call(session, 'AttachUserPolicy', { UserName: name, PolicyArn: p })
      const key = await createAccessKey(session, name)
      showError(undefined)
      form.reset()
      setCreated({ user: name, ...key })
      notify(`User ${name} created.`)
      await refresh()
    } catch (err) {
      showError(exists ? `User ${name} was created, but not finished: ${messageOf(err)} Open it to finish.` : messageOf(err))
      await refresh()
    }
    setBusy(false)
  }

  return <section aria-labelledby="users-title">
    <div class="view-head"><h1 id="users-title">Users</h1></div>
    {created !== undefined && <ShownOnce title={`Keys of ${created.user}`}
      note="The secret key is shown this once: copy it now and hand it over safely. It cannot be read again; if it is lost, create a new key for the user."
      fields={[{ label: 'Access key', value: created.accessKeyId }, { label: 'Secret key', value: created.secretAccessKey }]}
      onDone={() => { setCreated(undefined); document.getElementById('users-title')?.focus() }} />}
    {mayCreate
      ? <form id="create-user" class="access-create" aria-labelledby="create-user-title" onSubmit={e => { void create(e) }}>
        <h2 id="create-user-title">New user</h2>
        <label>User name
          <input name="name" required maxLength={64} pattern="[\w+=,.@\-]+" autocomplete="off" aria-describedby="user-name-rule" placeholder="alice" />
        </label>
        <small id="user-name-rule" class="muted">{NAME_RULE} The user gets an access key and secret key, shown once.</small>
        {policies.length > 0 && <fieldset>
          <legend>Policies</legend>
          <div class="checks">
            {policies.map(p => <label key={p.name} class="check">
              <input type="checkbox" name="policy" value={p.arn} /> <span><strong>{p.name}</strong>{BUILTIN_SUMMARY[p.name] === undefined ? '' : `: ${BUILTIN_SUMMARY[p.name]}`}</span>
            </label>)}
          </div>
        </fieldset>}
        <button type="submit" class="icon-text" disabled={busy} aria-busy={busy}><UserPlus size={16} aria-hidden /> Create user</button>
      </form>
      : <p class="muted">Creating users is not among your permissions.</p>}
    {rows !== undefined && rows.length === 0 && <div class="empty">
      <UsersIcon size={40} aria-hidden />
      <p>No users yet. A user has its own keys and only the rights its policies give it: create one above.</p>
    </div>}
    {rows !== undefined && rows.length > 0 && <div class="table-wrap"><table class="striped" aria-label="Users">
      <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Keys</th><th scope="col">Policies</th><th scope="col">Groups</th><th scope="col">Created</th></tr></thead>
      <tbody>{rows.map(u => <tr key={u.name}>
        <th scope="row"><a href={href({ view: 'access', tab: 'users', name: u.name })}>{u.name}</a></th>
        <td><Status enabled={u.enabled} /></td>
        <td>{u.detail === undefined ? '…' : u.detail.keys.length === 0 ? <span class="muted">none</span> : `${u.detail.keys.filter(k => k.active).length} active${u.detail.keys.some(k => !k.active) ? `, ${u.detail.keys.filter(k => !k.active).length} inactive` : ''}`}</td>
        <td>{u.detail === undefined ? '…' : <Names names={[...u.detail.attached, ...u.detail.inline.map(n => `${n} (inline)`)]} />}</td>
        <td>{u.detail === undefined ? '…' : <Names names={u.detail.groups} />}</td>
        <td><time dateTime={new Date(u.created).toISOString()} title={new Date(u.created).toLocaleString()}>{ago(u.created)}</time></td>
      </tr>)}</tbody>
    </table></div>}
  </section>
}

export function Status ({ enabled }: { enabled: boolean | undefined }): preact.JSX.Element {
  if (enabled === undefined) return <span class="muted" title="The node did not say whether the user is enabled">–</span>
  return <span class={`badge ${enabled ? 'ok' : 'warn'}`}>{enabled ? 'enabled' : 'disabled'}</span>
}

export function Names ({ names }: { names: string[] }): preact.JSX.Element {
  return names.length === 0 ? <span class="muted">none</span> : <span class="names">{names.map(n => <span key={n} class="badge">{n}</span>)}</span>
}
