import { useCallback, useEffect, useState } from 'preact/hooks'
import { Plus, Trash2, Users as UsersIcon } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago } from '../format.js'
import { call, deleteGroup, groupDetail, listGroups, listPolicies, listUsers, type GroupDetail, type GroupRow, type PolicyRow } from '../iam-api.js'
import { groupArn } from '../permissions.js'
import { Dialog } from '../parts/dialog.js'
import { href, navigate } from '../router.js'
import { Names } from './access-users.js'
import { PickForm, PolicyList } from './access-user.js'

/** The groups: a table (members, policies) and a form to create one. A user in a group has the group's policies too. */
export function Groups (): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [rows, setRows] = useState<Array<GroupRow & { detail?: GroupDetail }>>()
  const refresh = useCallback(async () => {
    try {
      const groups = await listGroups(session)
      setRows(groups)
      const details = await Promise.all(groups.map(async g => await groupDetail(session, g.name).catch(() => undefined)))
      setRows(groups.map((g, i) => ({ ...g, ...(details[i] === undefined ? {} : { detail: details[i] }) })))
    } catch (err) { showError(messageOf(err)) }
  }, [session])
  useEffect(() => { void refresh() }, [refresh])

  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const name = String(new FormData(form).get('name')).trim()
    try {
      await call(session, 'CreateGroup', { GroupName: name })
      showError(undefined)
      form.reset()
      notify(`Group ${name} created.`)
      await refresh()
    } catch (err) { showError(messageOf(err)) }
  }

  return <section aria-labelledby="groups-title">
    <div class="view-head"><h1 id="groups-title">Groups</h1></div>
    {session.can.mayOnSome('iam:CreateGroup')
      ? <form id="create-group" class="create" onSubmit={e => { void create(e) }}>
        <label>New group
          <input name="name" required maxLength={128} pattern="[\w+=,.@\-]+" placeholder="editors" autocomplete="off" aria-describedby="group-rule" />
        </label>
        <button type="submit" class="icon-text"><Plus size={16} aria-hidden /> Create group</button>
        <small id="group-rule" class="muted">Letters, digits and + = , . @ _ -. Its members get the policies attached to it.</small>
      </form>
      : <p class="muted">Creating groups is not among your permissions.</p>}
    {rows !== undefined && rows.length === 0 && <div class="empty">
      <UsersIcon size={40} aria-hidden />
      <p>No groups yet. A group gives its policies to every user in it: create one, attach policies, add users.</p>
    </div>}
    {rows !== undefined && rows.length > 0 && <div class="table-wrap"><table class="striped" aria-label="Groups">
      <thead><tr><th scope="col">Name</th><th scope="col">Members</th><th scope="col">Policies</th><th scope="col">Created</th></tr></thead>
      <tbody>{rows.map(g => <tr key={g.name}>
        <th scope="row"><a href={href({ view: 'access', tab: 'groups', name: g.name })}>{g.name}</a></th>
        <td>{g.detail === undefined ? '…' : <Names names={g.detail.members} />}</td>
        <td>{g.detail === undefined ? '…' : <Names names={[...g.detail.attached, ...g.detail.inline.map(n => `${n} (inline)`)]} />}</td>
        <td><time dateTime={new Date(g.created).toISOString()}>{ago(g.created)}</time></td>
      </tr>)}</tbody>
    </table></div>}
  </section>
}

/** One group: its members (add, remove), its policies (attach, detach), delete. */
export function Group ({ name }: { name: string }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const can = session.can
  const arn = groupArn(name)
  const [detail, setDetail] = useState<GroupDetail>()
  const [users, setUsers] = useState<string[]>([])
  const [policies, setPolicies] = useState<PolicyRow[]>([])
  const [deleting, setDeleting] = useState(false)
  const refresh = useCallback(async () => {
    try { setDetail(await groupDetail(session, name)) } catch (err) { showError(messageOf(err)) }
  }, [session, name])
  useEffect(() => { setDetail(undefined); void refresh() }, [refresh])
  useEffect(() => {
    if (can.may('iam:ListUsers')) listUsers(session).then(u => { setUsers(u.map(x => x.name)) }, () => {})
    if (can.may('iam:ListPolicies')) listPolicies(session).then(setPolicies, () => {})
  }, [session])
  const act = async (action: string, params: Record<string, string>, news: string): Promise<void> => {
    try {
      await call(session, action, params)
      showError(undefined)
      notify(news)
    } catch (err) { showError(messageOf(err)) }
    await refresh()
  }
  const addable = users.filter(u => !(detail?.members.includes(u) ?? true))
  const attachable = policies.filter(p => !(detail?.attached.includes(p.name) ?? true))

  return <section aria-labelledby="group-title">
    <nav aria-label="Breadcrumb"><ul><li><a href={href({ view: 'access', tab: 'groups' })}>Groups</a></li><li>{name}</li></ul></nav>
    <div class="view-head">
      <h1 id="group-title" tabindex={-1}>{name}</h1>
      {can.may('iam:DeleteGroup', arn) && <button type="button" class="danger outline icon-text" onClick={() => { setDeleting(true) }}><Trash2 size={16} aria-hidden /> Delete group</button>}
    </div>
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {detail !== undefined && detail.members.length === 0 && <p class="muted">No members yet.</p>}
      {detail !== undefined && detail.members.length > 0 && <ul class="plain-list">{detail.members.map(u => <li key={u}>
        <a href={href({ view: 'access', tab: 'users', name: u })}>{u}</a>
        {can.may('iam:RemoveUserFromGroup', arn) && <button type="button" class="secondary outline small" aria-label={`Remove ${u} from ${name}`} onClick={() => { void act('RemoveUserFromGroup', { GroupName: name, UserName: u }, `${u} removed from ${name}.`) }}>Remove</button>}
      </li>)}</ul>}
      {can.may('iam:AddUserToGroup', arn) && addable.length > 0 && <PickForm id="add-member" label="User to add" button="Add user" options={addable}
        onPick={u => { void act('AddUserToGroup', { GroupName: name, UserName: u }, `${u} added to ${name}.`) }} />}
    </section>
    <section aria-labelledby="group-policies-title">
      <h2 id="group-policies-title">Policies</h2>
      <PolicyList attached={detail?.attached} inline={detail?.inline}
        onDetach={can.may('iam:DetachGroupPolicy', arn) ? p => { void act('DetachGroupPolicy', { GroupName: name, PolicyArn: p }, `${p} detached from ${name}.`) } : undefined}
        onDeleteInline={can.may('iam:DeleteGroupPolicy', arn) ? p => { void act('DeleteGroupPolicy', { GroupName: name, PolicyName: p }, `Inline policy ${p} of ${name} deleted.`) } : undefined} />
      {can.may('iam:AttachGroupPolicy', arn) && attachable.length > 0 && <PickForm id="attach-group-policy" label="Policy to attach" button="Attach policy" options={attachable.map(p => p.name)}
        onPick={p => { void act('AttachGroupPolicy', { GroupName: name, PolicyArn: p }, `${p} attached to ${name}.`) }} />}
    </section>
    {deleting && detail !== undefined && <Dialog title={`Delete group ${name}?`} onClose={() => { setDeleting(false) }}>
      <p>{detail.members.length === 0 ? 'It has no members. This cannot be undone.' : `Its ${detail.members.length === 1 ? '1 member loses' : `${detail.members.length} members lose`} the group's policies (the users stay), and the group is deleted. This cannot be undone.`}</p>
      <footer>
        <button type="button" class="secondary" onClick={() => { setDeleting(false) }}>Cancel</button>
        <button type="button" class="danger" onClick={() => {
          setDeleting(false)
          deleteGroup(session, name).then(() => { notify(`Group ${name} deleted.`); navigate({ view: 'access', tab: 'groups' }) }, err => { showError(messageOf(err)); void refresh() })
        }}>Delete group</button>
      </footer>
    </Dialog>}
  </section>
}
