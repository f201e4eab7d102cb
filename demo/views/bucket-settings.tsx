import { useEffect, useState } from 'preact/hooks'
import { Globe, History, Lock, FileJson, CirclePause, ShieldCheck } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { bucketArn } from '../permissions.js'
import { PolicyEditor, policyProblem } from '../parts/policy-editor.js'
import { href } from '../router.js'
import { ConsoleError, getBucketAccess, getCors, getObjectLock, getVersioning, putBucketAcl, putBucketPolicy, putCors, putObjectLock, putVersioning, type BucketAccess, type LockMode, type ObjectLock, type Versioning } from '../s3-api.js'

const EXAMPLE = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>https://app.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`

/** A bucket's settings: who may read it (private, public read, or its own policy), its versioning and its CORS rules, replicated to every member with the bucket. */
export function BucketSettings ({ bucket }: { bucket: string }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const can = session.can
  const [rules, setRules] = useState<string>()
  const mayCors = can.may('s3:PutBucketCORS', bucketArn(bucket))
  const mayVersioning = can.may('s3:PutBucketVersioning', bucketArn(bucket))
  const mayLock = can.may('s3:GetBucketObjectLockConfiguration', bucketArn(bucket))
  // Versioning and object lock are read here: each form's choices depend on the other's state.
  const [versioning, setVersioning] = useState<Versioning | 'unknown'>('unknown')
  const [lock, setLock] = useState<ObjectLock>()
  useEffect(() => {
    if (mayCors) getCors(session, bucket).then(setRules, err => { showError(messageOf(err)); setRules('') })
    setVersioning('unknown'); setLock(undefined)
    if (mayVersioning) getVersioning(session, bucket).then(setVersioning, err => { showError(messageOf(err)) })
    if (mayLock) getObjectLock(session, bucket).then(setLock, err => { showError(messageOf(err)) })
  }, [bucket])
  const save = async (e: Event): Promise<void> => {
    e.preventDefault()
    try {
      await putCors(session, bucket, rules ?? '')
      showError(undefined)
      notify(rules?.trim() === '' ? `CORS rules of ${bucket} removed.` : `CORS rules of ${bucket} saved.`)
    } catch (err) { showError(messageOf(err)) }
  }
  return <section aria-labelledby="settings-title">
    <nav aria-label="Breadcrumb"><ul><li><a href={href({ view: 'buckets' })}>Buckets</a></li><li><a href={href({ view: 'objects', bucket, prefix: '' })}>{bucket}</a></li><li>Settings</li></ul></nav>
    <h1 id="settings-title">Settings of {bucket}</h1>
    {(can.may('s3:PutBucketAcl', bucketArn(bucket)) || can.may('s3:PutBucketPolicy', bucketArn(bucket))) && <BucketAccessForm bucket={bucket} />}
    {mayCors && <form aria-labelledby="cors-title" onSubmit={e => { void save(e) }}>
      <h2 id="cors-title">CORS</h2>
      <label>CORS rules
        <textarea rows={14} class="code" value={rules ?? ''} disabled={rules === undefined} aria-describedby="cors-help" onInput={e => { setRules(e.currentTarget.value) }} placeholder={EXAMPLE} />
      </label>
      <small id="cors-help" class="muted">Which web pages on other origins may call this bucket from a browser, as S3's CORSConfiguration XML. Empty removes the rules. Saved rules travel with the bucket to every member of the mesh.</small>
      <div class="row">
        <button type="submit">Save CORS rules</button>
        <button type="button" class="secondary outline" onClick={() => { setRules(EXAMPLE) }}>Insert an example</button>
      </div>
    </form>}
    {mayVersioning && <VersioningForm bucket={bucket} status={versioning} locked={lock?.enabled === true} onChange={setVersioning} />}
    {mayLock && <ObjectLockForm bucket={bucket} lock={lock} versioning={versioning}
      editable={can.may('s3:PutBucketObjectLockConfiguration', bucketArn(bucket)) && (versioning === 'Enabled' || mayVersioning)}
      onChange={next => { setLock(next); setVersioning('Enabled') }} />}
  </section>
}

/**
 * Object lock: off, or on (for good, as in S3) with the default retention
 * each new version gets. Turning it on needs versioning on, and keeps it on.
 */
function ObjectLockForm ({ bucket, lock, versioning, editable, onChange }: { bucket: string, lock: ObjectLock | undefined, versioning: Versioning | 'unknown', editable: boolean, onChange: (next: ObjectLock) => void }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [busy, setBusy] = useState(false)
  const save = async (rule: DefaultRule | undefined, done: string): Promise<void> => {
    setBusy(true)
    try {
      // Object lock needs versioning on: turned on first (it stays on).
      if (versioning !== 'Enabled') await putVersioning(session, bucket, 'Enabled')
      await putObjectLock(session, bucket, rule)
      onChange({ enabled: true, ...(rule === undefined ? {} : { rule }) })
      showError(undefined)
      notify(done)
    } catch (err) { showError(messageOf(err)) }
    setBusy(false)
  }
  const submit = (e: Event): void => {
    e.preventDefault()
    const form = new FormData(e.currentTarget as HTMLFormElement)
    const mode = String(form.get('mode'))
    const n = Number(form.get('period'))
    const unit = String(form.get('unit')) === 'years' ? 'years' : 'days'
    if (mode === 'none') { void save(undefined, `New versions in ${bucket} get no retention of their own.`); return }
    void save(unit === 'years' ? { mode: mode as LockMode, years: n } : { mode: mode as LockMode, days: n }, `New versions in ${bucket} are kept ${n} ${n === 1 ? unit.slice(0, -1) : unit} (${mode.toLowerCase()}).`)
  }
  const rule = lock?.enabled === true ? lock.rule : undefined
  const period = rule === undefined ? '' : rule.days !== undefined ? `${rule.days} day${rule.days === 1 ? '' : 's'}` : `${rule.years} year${rule.years === 1 ? '' : 's'}`
  return <section aria-labelledby="lock-title">
    <h2 id="lock-title"><span class="icon-text"><ShieldCheck size={20} aria-hidden /> Object lock</span></h2>
    <p>Object lock is <strong id="lock-status">{lock === undefined ? '…' : lock.enabled ? 'On' : 'Off'}</strong>{rule !== undefined && <>; each new version is kept <strong id="lock-default">{period}</strong> in {rule.mode.toLowerCase()} mode</>}.</p>
    <small id="lock-help" class="muted">
      {lock?.enabled === true
        ? 'A version under retention, or with a legal hold, cannot be deleted on any member of the mesh. Governance mode lets users allowed to bypass it delete early or shorten it; compliance mode lets nobody, root included, until the date passes.'
        : 'Object lock keeps versions from being deleted or overwritten for a set time (write once, read many): backups, records, evidence. Once on, it cannot be turned off, and versioning stays on, as in S3.'}
    </small>
    {editable && lock?.enabled === false && <div class="row">
      <button type="button" class="icon-text" disabled={busy} aria-busy={busy} aria-describedby="lock-help" onClick={() => {
        if (!confirm(`Turn object lock on for ${bucket}? It cannot be turned off again, and versioning stays on.`)) return
        void save(undefined, `Object lock is on for ${bucket}.`)
      }}><ShieldCheck size={16} aria-hidden /> Turn object lock on</button>
    </div>}
    {editable && lock?.enabled === true && <form class="lock-default" aria-label="Default retention" onSubmit={submit}>
      <label>Default retention
        <select name="mode" defaultValue={rule?.mode ?? 'none'}>
          <option value="none">None</option>
          <option value="GOVERNANCE">Governance</option>
          <option value="COMPLIANCE">Compliance</option>
        </select>
      </label>
      <label>Keep each version for
        <input name="period" type="number" min={1} max={36500} required defaultValue={String(rule?.days ?? rule?.years ?? 30)} />
      </label>
      <label>Unit
        <select name="unit" defaultValue={rule?.years === undefined ? 'days' : 'years'}>
          <option value="days">Days</option>
          <option value="years">Years</option>
        </select>
      </label>
      <button type="submit" class="small" disabled={busy} aria-busy={busy}>Save default retention</button>
    </form>}
  </section>
}

/** Whether the bucket keeps every version of its objects: turned on, or suspended (S3 never turns it off again; object lock keeps it on). */
function VersioningForm ({ bucket, status, locked, onChange }: { bucket: string, status: Versioning | 'unknown', locked: boolean, onChange: (next: Versioning) => void }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [busy, setBusy] = useState(false)
  const set = async (next: 'Enabled' | 'Suspended'): Promise<void> => {
    setBusy(true)
    try {
      await putVersioning(session, bucket, next)
      onChange(next)
      showError(undefined)
      notify(next === 'Enabled' ? `${bucket} keeps every version now.` : `Versioning of ${bucket} is suspended.`)
    } catch (err) { showError(messageOf(err)) }
    setBusy(false)
  }
  const said = status === 'unknown' ? '…' : status === 'Enabled' ? 'On' : status === 'Suspended' ? 'Suspended' : 'Off'
  return <section aria-labelledby="versioning-title">
    <h2 id="versioning-title">Versioning</h2>
    <p>Versioning is <strong id="versioning-status">{said}</strong>.</p>
    <small id="versioning-help" class="muted">
      {status === 'Enabled' && locked
        ? 'An overwrite or a delete keeps the old version: open an object to restore one, or show deleted objects to recover them. Object lock keeps versioning on for good.'
        : status === 'Enabled'
        ? 'An overwrite or a delete keeps the old version: open an object to restore one, or show deleted objects to recover them. Suspending keeps the versions there are; new writes then replace the latest.'
        : status === 'Suspended'
          ? 'The versions kept before stay, and can still be restored; a write or a delete replaces only the latest. Turn it on again to keep every version.'
          : 'With versioning on, an overwrite or a delete keeps the old version, to restore it later, on every member of the mesh. Once on, it can be suspended but not turned off, as in S3.'}
    </small>
    <div class="row">
      {status !== 'Enabled' && <button type="button" class="icon-text" disabled={busy || status === 'unknown'} aria-busy={busy} aria-describedby="versioning-help" onClick={() => { void set('Enabled') }}><History size={16} aria-hidden /> {status === 'Suspended' ? 'Turn versioning on again' : 'Turn versioning on'}</button>}
      {status === 'Enabled' && !locked && <button type="button" class="secondary outline icon-text" disabled={busy} aria-busy={busy} aria-describedby="versioning-help" onClick={() => { void set('Suspended') }}><CirclePause size={16} aria-hidden /> Suspend versioning</button>}
    </div>
  </section>
}

type Mode = 'private' | 'public' | 'custom'
type DefaultRule = { mode: LockMode, days: number } | { mode: LockMode, years: number }

const policyExample = (bucket: string): string => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'AnyoneReadsPublicFolder', Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/public/*`] }],
}, null, 2)

/** Who may read the bucket: nobody without a policy of their own, anyone (the public-read ACL), or what the bucket's own policy says. */
function BucketAccessForm ({ bucket }: { bucket: string }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [current, setCurrent] = useState<BucketAccess>()
  const [mode, setMode] = useState<Mode>('private')
  const [policy, setPolicy] = useState(policyExample(bucket))
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  const load = async (): Promise<void> => {
    try {
      const a = await getBucketAccess(session, bucket)
      setCurrent(a)
      setMode(a.policy !== undefined ? 'custom' : a.acl === 'public-read' ? 'public' : 'private')
      setPolicy(a.policy === undefined ? policyExample(bucket) : JSON.stringify(JSON.parse(a.policy), null, 2))
      setProblem(undefined)
    } catch (err) { showError(messageOf(err)) }
  }
  useEffect(() => { void load() }, [bucket])

  const save = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (current === undefined) return
    if (mode === 'custom') {
      const found = policyProblem(policy, 'bucket')
      setProblem(found)
      if (found !== undefined) { document.getElementById('bucket-policy')?.focus(); return }
    }
    setBusy(true)
    try {
      // A policy replaces the canned ACL as the way in: one or the other, never a public ACL left under a policy.
      if (mode === 'custom') await putBucketPolicy(session, bucket, policy)
      else if (current.policy !== undefined) await putBucketPolicy(session, bucket, undefined)
      await putBucketAcl(session, bucket, mode === 'public' ? 'public-read' : 'private')
      showError(undefined)
      notify(mode === 'public' ? `${bucket} is readable by anyone now.` : mode === 'private' ? `${bucket} is private now.` : `The policy of ${bucket} is saved.`)
      await load()
    } catch (err) {
      if (err instanceof ConsoleError && err.code === 'MalformedPolicy') { setProblem(err.message); document.getElementById('bucket-policy')?.focus() } else showError(messageOf(err))
    }
    setBusy(false)
  }

  const choice = (value: Mode, Icon: typeof Lock, label: string, help: string): preact.JSX.Element => <label class="choice">
    <input type="radio" name="access" value={value} checked={mode === value} disabled={current === undefined} onChange={() => { setMode(value) }} />
    <span><span class="icon-text"><Icon size={16} aria-hidden /> <strong>{label}</strong></span><br /><small class="muted">{help}</small></span>
  </label>

  return <form id="bucket-access" aria-labelledby="access-title" onSubmit={e => { void save(e) }}>
    <h2 id="access-title">Access</h2>
    <fieldset>
      <legend>Who may read this bucket</legend>
      {choice('private', Lock, 'Private', 'Only users whose policies allow it (and root).')}
      {choice('public', Globe, 'Public read', 'Anyone, without keys, may list the bucket and read its objects: for a website\'s files or public downloads.')}
      {choice('custom', FileJson, 'Custom policy', 'A bucket policy written in JSON: let one user write, or anyone read one folder.')}
    </fieldset>
    {current !== undefined && (current.acl === 'public-read-write' || current.acl === 'authenticated-read') && <p class="muted">{`Its ACL is ${current.acl} now (set by an S3 client); saving replaces it.`}</p>}
    {mode === 'custom' && <PolicyEditor id="bucket-policy" label="Bucket policy (JSON)" kind="bucket" code="MalformedPolicy" value={policy} onInput={setPolicy}
      problem={problem} onProblem={setProblem} help={`Each statement needs a Principal ("*" for anyone, or {"AWS": ["arn:aws:iam::000000000000:user/alice"]}), and its resources must be in this bucket: arn:aws:s3:::${bucket} or arn:aws:s3:::${bucket}/...`} />}
    <button type="submit" disabled={busy || current === undefined} aria-busy={busy}>Save access</button>
  </form>
}
