import { useState } from 'preact/hooks'
import { ShieldCheck } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago } from '../format.js'
import { objectArn } from '../permissions.js'
import { putLegalHold, putRetention, type LockMode, type ObjectHead } from '../s3-api.js'

const DAY = 86_400_000

/** A retention's end, to the minute. */
const when = (ms: number): string => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/** How long a retention has left: days while more than one, else as `ago` says it. */
const left = (ms: number): string => {
  const days = Math.floor((ms - Date.now()) / DAY)
  return days > 1 ? `${days} days left` : ago(ms)
}

/** A date input's value: the day, as the person's calendar has it. */
const dayOf = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

/**
 * What object lock protects the object's current version with: its
 * retention (mode and date) and legal hold, each changed where the person
 * may (a GOVERNANCE retention shortened or lifted only with the right to
 * bypass it; COMPLIANCE never, as in S3).
 */
export function Protection ({ bucket, objectKey, head, onChanged }: { bucket: string, objectKey: string, head: ObjectHead, onChanged: () => void }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [busy, setBusy] = useState(false)
  const may = (action: string): boolean => session.can.may(action, objectArn(bucket, objectKey))
  const { lock, versionId } = head
  const retained = lock.until !== undefined && lock.until > Date.now()
  const act = async (work: () => Promise<void>, done: string): Promise<void> => {
    setBusy(true)
    try {
      await work()
      showError(undefined)
      notify(done)
      onChanged()
    } catch (err) { showError(messageOf(err)) }
    setBusy(false)
  }
  const save = (e: Event): void => {
    e.preventDefault()
    const form = new FormData(e.currentTarget as HTMLFormElement)
    const mode = String(form.get('mode')) as LockMode
    // The end of the chosen day, in the person's time zone.
    const until = new Date(`${String(form.get('until'))}T23:59:59`).getTime()
    const bypass = form.get('bypass') === 'on'
    void act(async () => { await putRetention(session, bucket, objectKey, versionId, { mode, until }, bypass) }, `${objectKey} is kept until ${when(until)}.`)
  }
  const mayBypass = may('s3:BypassGovernanceRetention')
  return <section class="protection" aria-labelledby="protection-title">
    <h3 id="protection-title"><span class="icon-text"><ShieldCheck size={16} aria-hidden /> Protection</span></h3>
    <dl>
      <dt>Retention</dt>
      <dd id="retention-status">{!may('s3:GetObjectRetention')
        ? 'Not shown to you (s3:GetObjectRetention)'
        : lock.mode === undefined || lock.until === undefined
        ? 'None'
        : <>{lock.mode === 'COMPLIANCE' ? 'Compliance' : 'Governance'} {retained ? 'until' : 'ended'} <time dateTime={new Date(lock.until).toISOString()} title={new Date(lock.until).toLocaleString()}>{when(lock.until)}</time>{retained ? ` (${left(lock.until)})` : ''}</>}</dd>
      <dt>Legal hold</dt>
      <dd id="legal-hold-status">{!may('s3:GetObjectLegalHold') ? 'Not shown to you (s3:GetObjectLegalHold)' : lock.legalHold === true ? 'On' : 'Off'}</dd>
    </dl>
    <small class="muted">{retained || lock.legalHold === true
      ? 'This version cannot be deleted on any member of the mesh until its retention ends and its legal hold is lifted. A delete hides it behind a delete marker; the version stays.'
      : 'Nothing keeps this version from being deleted.'}</small>
    <div class="row">
      {may('s3:PutObjectLegalHold') && may('s3:GetObjectLegalHold') && <button type="button" class="secondary outline small" disabled={busy} aria-busy={busy} onClick={() => {
        const on = lock.legalHold !== true
        void act(async () => { await putLegalHold(session, bucket, objectKey, versionId, on) }, on ? `Legal hold placed on ${objectKey}.` : `Legal hold on ${objectKey} lifted.`)
      }}>{lock.legalHold === true ? 'Lift legal hold' : 'Place legal hold'}</button>}
      {retained && lock.mode === 'GOVERNANCE' && mayBypass && may('s3:PutObjectRetention') && <button type="button" class="secondary outline small danger" disabled={busy} onClick={() => {
        if (!confirm(`Lift the governance retention of ${objectKey}? It can then be deleted.`)) return
        void act(async () => { await putRetention(session, bucket, objectKey, versionId, undefined, true) }, `Retention of ${objectKey} lifted.`)
      }}>Lift retention</button>}
    </div>
    {may('s3:PutObjectRetention') && <form class="retention" aria-label="Retention" onSubmit={save}>
      <label>Mode
        {/* A compliance retention is only ever extended. */}
        <select name="mode" defaultValue={lock.mode ?? 'GOVERNANCE'}>
          {!(retained && lock.mode === 'COMPLIANCE') && <option value="GOVERNANCE">Governance</option>}
          <option value="COMPLIANCE">Compliance</option>
        </select>
      </label>
      <label>Keep until
        <input name="until" type="date" required min={dayOf(retained && lock.mode === 'COMPLIANCE' ? lock.until! : Date.now() + DAY)} defaultValue={dayOf(Math.max(lock.until ?? 0, Date.now() + 30 * DAY))} />
      </label>
      {retained && lock.mode === 'GOVERNANCE' && mayBypass && <label class="toggle"><input type="checkbox" role="switch" name="bypass" /> Bypass governance</label>}
      <button type="submit" class="small" disabled={busy} aria-busy={busy}>Save retention</button>
    </form>}
  </section>
}
