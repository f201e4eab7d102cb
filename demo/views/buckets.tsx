import { useCallback, useEffect, useState } from 'preact/hooks'
import { Database, Plus, Settings, Trash2 } from 'lucide-preact'
import { messageOf, useConsole } from '../context.js'
import { ago, bytes } from '../format.js'
import { throttled } from '../mesh-watch.js'
import { Dialog } from '../parts/dialog.js'
import { href } from '../router.js'
import { bucketArn } from '../permissions.js'
import { bucketIsPublic, createBucket, deleteBucket, deleteKeys, listBuckets, listObjects, type BucketRow } from '../s3-api.js'

/** The buckets: a table, a form to create one (naming rules said inline), and deleting, with all objects if asked and confirmed. */
export function Buckets (): preact.JSX.Element {
  const { session, watch, showError, notify } = useConsole()
  const [rows, setRows] = useState<BucketRow[]>()
  /** The bucket whose deletion is being confirmed. */
  const [deleting, setDeleting] = useState<string>()
  /** Whether anyone may read each bucket without keys (absent: not known, or not this person's to ask). */
  const [open, setOpen] = useState<Record<string, boolean>>({})
  /** Each bucket's objects and bytes as the node counts them (buckets this person may list whole). */
  const [totals, setTotals] = useState<Map<string, { objects: number, bytes: number }>>(new Map())
  const can = session.can
  const countAll = useCallback(async (names: string[]) => {
    const t = await session.tab.node?.guest.totals(names).catch(() => undefined)
    if (t !== undefined) setTotals(t)
  }, [session])
  const refresh = useCallback(async () => {
    try {
      const list = await listBuckets(session)
      setRows(list)
      void countAll(list.map(b => b.name))
      const answers = await Promise.all(list.map(async b => [b.name, await bucketIsPublic(session, b.name).catch(() => undefined)] as const))
      setOpen(Object.fromEntries(answers.flatMap(([name, v]) => v === undefined ? [] : [[name, v]])))
    } catch (err) { showError(messageOf(err)) }
  }, [session, countAll])
  useEffect(() => { void refresh() }, [refresh])
  // The counts move with writes anywhere in the mesh, which this tab is not told of one by one.
  useEffect(() => {
    if (rows === undefined || rows.length === 0) return
    const t = setInterval(() => { void countAll(rows.map(b => b.name)) }, 5000)
    return () => { clearInterval(t) }
  }, [rows, countAll])
  // Buckets made or deleted elsewhere show without a reload.
  useEffect(() => {
    const later = throttled(1000, () => { void refresh() })
    const off = watch.onCatalog(item => { if (item.kind === 'bucket' || item.kind === 'bucket-delete') later() })
    return () => { off(); later.cancel() }
  }, [watch, refresh])

  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const name = String(data.get('name')).trim()
    try {
      await createBucket(session, name, { objectLock: data.get('lock') === 'on' })
      showError(undefined)
      form.reset()
      notify(`Bucket ${name} created.`)
      await refresh()
    } catch (err) { showError(messageOf(err)) }
  }

  return <section aria-labelledby="buckets-title">
    <div class="view-head">
      <h1 id="buckets-title">Buckets</h1>
    </div>
    {can.mayOnSome('s3:CreateBucket')
      ? <form id="create-bucket" class="create" onSubmit={e => { void create(e) }}>
        <label>New bucket
          <input name="name" required placeholder="photos" aria-describedby="bucket-rules" />
        </label>
        {can.mayOnSome('s3:PutBucketObjectLockConfiguration') && <label class="toggle" title="Versions can be kept from deletion for a set time (write once, read many). It cannot be turned off later, and keeps versioning on.">
          <input type="checkbox" role="switch" name="lock" /> Object lock
        </label>}
        <button type="submit" class="icon-text"><Plus size={16} aria-hidden /> Create</button>
        <small id="bucket-rules" class="muted">3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (S3's rules: the name may become part of a URL).</small>
      </form>
      : <p class="muted">Creating buckets is not among your permissions: these are the buckets you may use.</p>}
    {rows !== undefined && rows.length === 0 && <div class="empty">
      <Database size={40} aria-hidden />
      <p>{can.mayOnSome('s3:CreateBucket') ? 'No buckets yet. A bucket holds objects, as a folder holds files: create one above, then drop files into it.' : 'No buckets you may use yet: ask whoever manages access.'}</p>
    </div>}
    {rows !== undefined && rows.length > 0 && <div class="table-wrap"><table class="striped" aria-label="Buckets">
      <thead><tr><th scope="col">Name</th>{session.member && <><th scope="col" class="num">Objects</th><th scope="col" class="num">Size</th></>}<th scope="col">Created</th><th scope="col">Access</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>{rows.map(b => {
        const t = totals.get(b.name)
        return <tr key={b.name}>
          <th scope="row"><a href={href({ view: 'objects', bucket: b.name, prefix: '' })} class="icon-text"><Database size={16} aria-hidden /> {b.name}</a></th>
          {session.member && <><td class="num">{t === undefined ? '' : t.objects.toLocaleString()}</td>
            <td class="num">{t === undefined ? '' : bytes(t.bytes)}</td></>}
          <td><time dateTime={new Date(b.created).toISOString()} title={new Date(b.created).toLocaleString()}>{ago(b.created)}</time></td>
          <td>{open[b.name] === undefined ? '' : <span class={`badge${open[b.name] === true ? ' warn' : ''}`} title={open[b.name] === true ? 'Anyone may read it without keys' : 'Only users whose policies allow it'}>{open[b.name] === true ? 'public' : 'private'}</span>}</td>
          <td class="actions">
            {can.bucketSettings(b.name) && <a href={href({ view: 'bucket-settings', bucket: b.name })} class="button-link" aria-label={`Settings of bucket ${b.name}`}><Settings size={16} aria-hidden /></a>}
            {can.may('s3:DeleteBucket', bucketArn(b.name)) && <button type="button" class="secondary outline small danger" aria-label={`Delete bucket ${b.name}`} onClick={() => { setDeleting(b.name) }}><Trash2 size={16} aria-hidden /></button>}
          </td>
        </tr>
      })}</tbody>
    </table></div>}
    {/* The count is read as it comes: a dialog opened before the node answered says it once it has. */}
    {deleting !== undefined && <DeleteBucket name={deleting} objects={totals.get(deleting)?.objects ?? NaN} onDone={() => { setDeleting(undefined); void refresh() }} />}
  </section>
}

/** Deleting a bucket: a plain confirmation when empty; with objects, only after the person types its name. */
function DeleteBucket ({ name, objects, onDone }: { name: string, objects: number, onDone: () => void }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [typed, setTyped] = useState('')
  const [busy, setBusy] = useState(false)
  const empty = objects === 0
  const go = async (): Promise<void> => {
    setBusy(true)
    try {
      if (!empty) {
        // Everything under the bucket, a listing at a time, until none is left (writes meanwhile are deleted too);
        // a listing that shows the same first key again made no progress: stop rather than loop.
        let previous: string | undefined
        for (;;) {
          const listed = await listObjects(session, name, '', { deep: true })
          if (listed.objects.length === 0) break
          if (listed.objects[0]!.key === previous) throw new Error(`${previous} could not be deleted, so neither can the bucket.`)
          previous = listed.objects[0]!.key
          await deleteKeys(session, name, listed.objects.map(o => o.key))
        }
      }
      await deleteBucket(session, name)
      showError(undefined)
      notify(`Bucket ${name} deleted.`)
    } catch (err) { showError(messageOf(err)) }
    onDone()
  }
  // Once started, it runs to its end: closing the dialog would hide a deletion still going on.
  return <Dialog title={`Delete bucket ${name}?`} onClose={() => { if (!busy) onDone() }}>
    {empty
      ? <p>The bucket is empty. Deleting it cannot be undone.</p>
      : <>
        <p>{Number.isNaN(objects)
          ? 'Deleting the bucket deletes every object in it from every member of the mesh, and cannot be undone.'
          : `The bucket holds ${objects.toLocaleString()} object${objects === 1 ? '' : 's'}. Deleting it deletes all of them from every member of the mesh, and cannot be undone.`}</p>
        <label>Type <strong>{name}</strong> to delete it and all its objects
          <input value={typed} onInput={e => { setTyped(e.currentTarget.value) }} autocomplete="off" />
        </label>
      </>}
    <footer>
      <button type="button" class="secondary" disabled={busy} onClick={onDone}>Cancel</button>
      <button type="button" class="danger" disabled={busy || (!empty && typed !== name)} aria-busy={busy} onClick={() => { void go() }}>
        {empty ? 'Delete bucket' : 'Delete bucket and all objects'}
      </button>
    </footer>
  </Dialog>
}
