import { useCallback, useEffect, useState } from 'preact/hooks'
import { FileJson, Plus, Trash2 } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago } from '../format.js'
import { attachmentsOf, call, IamCallError, listPolicies, policyDocument, replacePolicy, type PolicyRow } from '../iam-api.js'
import { policyArn } from '../permissions.js'
import { Dialog } from '../parts/dialog.js'
import { PolicyEditor, policyProblem } from '../parts/policy-editor.js'
import { href, navigate } from '../router.js'
import { BUILTIN_SUMMARY } from './access-users.js'

const EXAMPLE = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'ReadWritePhotos', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: ['arn:aws:s3:::photos/*'] },
    { Sid: 'ListPhotos', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::photos'] },
  ],
}, null, 2)

/** The policies: built-in and custom, what each is attached to, and a way to write a new one. */
export function Policies (): preact.JSX.Element {
  const { session, showError } = useConsole()
  const [rows, setRows] = useState<PolicyRow[]>()
  useEffect(() => { listPolicies(session).then(setRows, err => { showError(messageOf(err)) }) }, [session])
  return <section aria-labelledby="policies-title">
    <div class="view-head">
      <h1 id="policies-title">Policies</h1>
      {session.can.mayOnSome('iam:CreatePolicy') && <a class="button-link icon-text" href={href({ view: 'access', tab: 'policies', create: true })}><Plus size={16} aria-hidden /> New policy</a>}
    </div>
    <p class="muted">A policy is a JSON document of what is allowed (or denied) on which buckets and keys, as AWS writes them. Attach one to users or groups; built-in ones cannot be changed.</p>
    {rows !== undefined && <div class="table-wrap"><table class="striped" aria-label="Policies">
      <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Allows</th><th scope="col" class="num">Attached to</th><th scope="col">Updated</th></tr></thead>
      <tbody>{rows.map(p => <tr key={p.name}>
        <th scope="row"><a href={href({ view: 'access', tab: 'policies', name: p.name })} class="icon-text"><FileJson size={16} aria-hidden /> {p.name}</a></th>
        <td><span class="badge">{p.builtin ? 'built-in' : 'custom'}</span></td>
        <td>{BUILTIN_SUMMARY[p.name] ?? <span class="muted">see its document</span>}</td>
        <td class="num">{p.attachments === 0 ? <span class="muted">none</span> : p.attachments.toLocaleString()}</td>
        <td>{p.builtin ? '' : <time dateTime={new Date(p.updated).toISOString()}>{ago(p.updated)}</time>}</td>
      </tr>)}</tbody>
    </table></div>}
  </section>
}

/** One policy's document: read only when built-in, edited in place when custom; or a new one (`name` undefined). */
export function Policy ({ name }: { name: string | undefined }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const can = session.can
  const creating = name === undefined
  const [row, setRow] = useState<PolicyRow>()
  const [text, setText] = useState(creating ? EXAMPLE : '')
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [deleting, setDeleting] = useState(false)

  const load = useCallback(async () => {
    if (name === undefined) return
    try {
      const found = (await listPolicies(session)).find(p => p.name === name)
      if (found === undefined) { showError(`There is no policy called ${name}.`); return }
      // The document first, then both at once: an editor shown before its document came would take typing that the document then overwrote.
      const doc = await policyDocument(session, found.arn)
      setText(JSON.stringify(JSON.parse(doc), null, 2))
      setRow(found)
    } catch (err) { showError(messageOf(err)) }
  }, [session, name])
  useEffect(() => { setRow(undefined); setProblem(undefined); setText(creating ? EXAMPLE : ''); void load() }, [load])

  const editable = creating ? can.mayOnSome('iam:CreatePolicy') : row !== undefined && !row.builtin && can.may('iam:CreatePolicyVersion', policyArn(row.name))

  const save = async (e: Event): Promise<void> => {
    e.preventDefault()
    const newName = creating ? String(new FormData(e.currentTarget as HTMLFormElement).get('name')).trim() : name
    // The page's check first (the node's own parser): a bad document is not sent.
    const found = policyProblem(text, 'identity')
    setProblem(found)
    if (found !== undefined) { document.getElementById('policy-document')?.focus(); return }
    setBusy(true)
    try {
      if (creating) await call(session, 'CreatePolicy', { PolicyName: newName, PolicyDocument: text })
      else await replacePolicy(session, newName, text)
      showError(undefined)
      notify(creating ? `Policy ${newName} created.` : `Policy ${newName} saved.`)
      if (creating) navigate({ view: 'access', tab: 'policies', name: newName })
      else await load()
    } catch (err) {
      // The node's refusal of the document goes beside it; anything else in the banner.
      if (err instanceof IamCallError && err.code === 'MalformedPolicyDocument') { setProblem(err.message); document.getElementById('policy-document')?.focus() } else showError(messageOf(err))
    }
    setBusy(false)
  }

  const remove = async (): Promise<void> => {
    setDeleting(false)
    if (row === undefined) return
    try {
      // IAM refuses to delete an attached policy: it is detached from everyone first, as the dialog said.
      for (const a of await attachmentsOf(session, row.name)) {
        await call(session, a.owner === 'user' ? 'DetachUserPolicy' : 'DetachGroupPolicy', a.owner === 'user' ? { UserName: a.name, PolicyArn: row.arn } : { GroupName: a.name, PolicyArn: row.arn })
      }
      await call(session, 'DeletePolicy', { PolicyArn: row.arn })
      notify(`Policy ${row.name} deleted.`)
      navigate({ view: 'access', tab: 'policies' })
    } catch (err) { showError(messageOf(err)) }
  }

  return <section aria-labelledby="policy-title">
    <nav aria-label="Breadcrumb"><ul><li><a href={href({ view: 'access', tab: 'policies' })}>Policies</a></li><li>{name ?? 'New policy'}</li></ul></nav>
    <div class="view-head">
      <h1 id="policy-title" tabindex={-1}>{name ?? 'New policy'}</h1>
      {row !== undefined && !row.builtin && can.may('iam:DeletePolicy', policyArn(row.name)) && <button type="button" class="danger outline icon-text" onClick={() => { setDeleting(true) }}><Trash2 size={16} aria-hidden /> Delete policy</button>}
    </div>
    {row?.builtin === true && <p class="muted">Built-in ({BUILTIN_SUMMARY[row.name] ?? 'every mesh has it'}): it cannot be changed or deleted. Write a new policy to allow something else.</p>}
    {row !== undefined && !row.builtin && row.attachments > 0 && <p class="muted">{`Attached to ${row.attachments} user${row.attachments === 1 ? '' : 's'} or group${row.attachments === 1 ? '' : 's'}. Saving changes their rights at once.`}</p>}
    <form id="policy-form" onSubmit={e => { void save(e) }}>
      {creating && <label>Policy name
        <input name="name" required maxLength={128} pattern="[\w+=,.@\-]+" autocomplete="off" placeholder="photos-editors" aria-describedby="policy-name-rule" />
        <small id="policy-name-rule" class="muted">Letters, digits and + = , . @ _ -.</small>
      </label>}
      <PolicyEditor id="policy-document" label="Policy document (JSON)" kind="identity" value={text} rows={18}
        onInput={setText} problem={problem} onProblem={setProblem} readOnly={!editable}
        help="Version 2012-10-17; each statement an Effect (Allow or Deny), Action (s3:GetObject, s3:*, iam:ListUsers, ...) and Resource (arn:aws:s3:::bucket/key, wildcards allowed), and optionally a Condition. Checked before it is sent." />
      {editable && <div class="row">
        <button type="submit" disabled={busy} aria-busy={busy}>{creating ? 'Create policy' : 'Save policy'}</button>
        {!creating && row !== undefined && <button type="button" class="secondary outline" onClick={() => { void load(); setProblem(undefined) }}>Discard changes</button>}
      </div>}
    </form>
    {deleting && row !== undefined && <Dialog title={`Delete policy ${row.name}?`} onClose={() => { setDeleting(false) }}>
      <p>{row.attachments > 0 ? `It is detached from the ${row.attachments} user${row.attachments === 1 ? '' : 's'} or group${row.attachments === 1 ? '' : 's'} it is attached to, who lose what it allowed, then deleted.` : 'It is attached to nobody.'} This cannot be undone.</p>
      <footer>
        <button type="button" class="secondary" onClick={() => { setDeleting(false) }}>Cancel</button>
        <button type="button" class="danger" onClick={() => { void remove() }}>Delete policy</button>
      </footer>
    </Dialog>}
  </section>
}
