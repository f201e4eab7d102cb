import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ArrowDown, ArrowUp, Download, File as FileIcon, FileX, Folder, FolderPlus, FolderUp, Settings, Trash2, Undo2, Upload } from 'lucide-preact'
import { copiesOf } from '../catalog-view.js'
import { messageOf, useConsole } from '../context.js'
import { ago, bytes } from '../format.js'
import { throttled } from '../mesh-watch.js'
import { Dialog } from '../parts/dialog.js'
import { ObjectPanel } from '../parts/object-panel.js'
import { bucketArn, objectArn, objectsArn } from '../permissions.js'
import { href, navigate } from '../router.js'
import { createFolder, deletedKeys, deleteKeys, deleteVersion, download, getObjectLock, getVersioning, listObjects, type Listing, type ObjectRow, type Versioning, type VersionRow } from '../s3-api.js'
import { droppedFiles } from '../upload-queue.js'

type Column = 'name' | 'size' | 'modified'
/** Rows drawn at a time; "Show more" draws the next. */
const PAGE = 500

/**
 * A bucket's objects under a prefix: folders, a sortable table with copies,
 * search, selection, uploads by drop or pick, the open object's panel, and
 * in a bucket that keeps versions the deleted objects, to recover.
 */
export function Objects ({ bucket, prefix, open }: { bucket: string, prefix: string, open: string | undefined }): preact.JSX.Element {
  const { session, watch, uploads, showError, notify } = useConsole()
  const [listing, setListing] = useState<Listing>()
  const [search, setSearch] = useState('')
  const [sort, setSort] = useState<{ by: Column, desc: boolean }>({ by: 'name', desc: false })
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [shown, setShown] = useState(PAGE)
  const [over, setOver] = useState(false)
  const [confirming, setConfirming] = useState<string[]>()
  const [naming, setNaming] = useState(false)
  const seq = useRef(0)
  /** The listing shown (its place in `seq`) and the query asked last. */
  const shownSeq = useRef(0)
  const query = useRef('')
  // What this person may do here: controls that could only fail are not shown.
  const mayWrite = session.can.may('s3:PutObject', objectsArn(bucket, prefix))
  const mayDelete = session.can.may('s3:DeleteObject', objectsArn(bucket, prefix))
  const [versioning, setVersioning] = useState<Versioning>()
  const [objectLock, setObjectLock] = useState(false)
  const mayListVersions = versioning !== undefined && session.can.may('s3:ListBucketVersions', bucketArn(bucket))
  const [showDeleted, setShowDeleted] = useState(false)
  const [deleted, setDeleted] = useState<{ rows: VersionRow[], truncated: boolean }>()

  const refresh = useCallback(async () => {
    const mine = ++seq.current
    const asked = `${bucket}/${prefix}${search}`
    query.current = asked
    // Answers to listings of another query that arrive late (a person typing a search) are dropped, and so is an
    // answer older than one shown already. An older answer to the same query is shown: while writes keep coming,
    // each starts a new listing, and waiting for the newest would show nothing for as long as they come.
    const current = (): boolean => asked === query.current
    try {
      const [l, d] = await Promise.all([listObjects(session, bucket, prefix + search), showDeleted ? deletedKeys(session, bucket, prefix + search) : undefined])
      if (current() && mine > shownSeq.current) {
        shownSeq.current = mine
        setListing(l)
        setDeleted(d)
      }
    } catch (err) { if (current() && mine > shownSeq.current) showError(messageOf(err)) }
  }, [session, bucket, prefix, search, showDeleted])

  // Another folder: nothing of the last one's listing, search or selection carries over.
  useEffect(() => { setListing(undefined); setDeleted(undefined); setSearch(''); setSelected(new Set()); setShown(PAGE) }, [bucket, prefix])
  // Whether the bucket keeps versions: deleted objects can then be shown and recovered. Unknown to someone who may not ask.
  const askVersioning = useCallback(() => {
    if (session.can.may('s3:GetBucketVersioning', bucketArn(bucket))) {
      getVersioning(session, bucket).then(status => {
        setVersioning(status)
        // Object lock needs versioning on: asked only then.
        if (status === 'Enabled' && session.can.may('s3:GetBucketObjectLockConfiguration', bucketArn(bucket))) getObjectLock(session, bucket).then(l => { setObjectLock(l.enabled) }, () => {})
      }, () => {})
    }
  }, [session, bucket])
  useEffect(() => { setVersioning(undefined); setObjectLock(false); setShowDeleted(false); askVersioning() }, [askVersioning])
  // A new search shows other rows: a selection made among the old ones would delete what is not in view.
  useEffect(() => { setSelected(new Set()) }, [search])
  useEffect(() => {
    const t = setTimeout(() => { void refresh() }, search === '' ? 0 : 200)
    return () => { clearTimeout(t) }
  }, [refresh])
  // The latest listing function (with the search as typed now): a refresh planned earlier must not list with an old search.
  const latest = useRef(refresh)
  latest.current = refresh
  // The tab follows the open bucket: its changes come with the feed (and the listed objects' copies stay current).
  // Again once a tab that waited has taken over the mesh node.
  useEffect(() => session.tab.node?.guest.watch([bucket]), [session, bucket, session.tab.node])
  // Writes anywhere in the mesh to this bucket show without a reload; a deleted bucket sends the person back.
  useEffect(() => {
    const later = throttled(1000, () => { void latest.current() })
    const offCatalog = watch.onCatalog(item => {
      if (item.bucket !== bucket) return
      if (item.kind === 'bucket-delete') navigate({ view: 'buckets' })
      // The bucket's own entry changed (its versioning turned on elsewhere, say).
      else if (item.kind === 'bucket') askVersioning()
      else later()
    })
    const offUploads = uploads.onUploaded(u => { if (u.bucket === bucket) later() })
    return () => { offCatalog(); offUploads(); later.cancel() }
  }, [watch, uploads, bucket, askVersioning])

  const objects = useMemo(() => {
    const list = [...(listing?.objects ?? [])].filter(o => o.key !== prefix)
    const dir = sort.desc ? -1 : 1
    const by: Record<Column, (a: ObjectRow, b: ObjectRow) => number> = {
      name: (a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
      size: (a, b) => a.size - b.size,
      modified: (a, b) => a.modified - b.modified,
    }
    return list.sort((a, b) => dir * by[sort.by](a, b))
  }, [listing, sort, prefix])
  const folders = useMemo(() => [...(listing?.folders ?? [])].sort((a, b) => (sort.by === 'name' && sort.desc ? -1 : 1) * (a < b ? -1 : a > b ? 1 : 0)), [listing, sort])

  const upload = (files: Array<{ path: string, file: File }>): void => {
    if (files.length === 0) return
    uploads.add(bucket, files.map(f => ({ key: prefix + f.path, file: f.file })))
  }
  const onDrop = (e: DragEvent): void => {
    e.preventDefault()
    setOver(false)
    if (!mayWrite) { showError(`Uploading to ${bucket}/${prefix} is not among your permissions.`); return }
    if (e.dataTransfer !== null) void droppedFiles(e.dataTransfer).then(upload)
  }
  const toggle = (key: string): void => {
    const next = new Set(selected)
    if (next.has(key)) next.delete(key); else next.add(key)
    setSelected(next)
  }
  /** The objects drawn now ("select all" selects these, not rows beyond the page). */
  const drawn = objects.slice(0, Math.max(0, shown - folders.length))
  const allSelected = drawn.length > 0 && drawn.every(o => selected.has(o.key))
  const remove = async (keys: string[]): Promise<void> => {
    setConfirming(undefined)
    try {
      await deleteKeys(session, bucket, keys)
      showError(undefined)
      notify(`Deleted ${keys.length === 1 ? keys[0]!.slice(prefix.length) : `${keys.length} objects`}.`)
      setSelected(now => new Set([...now].filter(k => !keys.includes(k))))
      if (open !== undefined && keys.includes(open)) navigate({ view: 'objects', bucket, prefix })
      await refresh()
    } catch (err) { showError(messageOf(err)) }
  }
  /** Brings a deleted key back: its delete marker goes, and its newest version is current again. */
  const recover = async (row: VersionRow): Promise<void> => {
    try {
      await deleteVersion(session, bucket, row.key, row.versionId)
      showError(undefined)
      notify(`Recovered ${row.key.slice(prefix.length)}.`)
      await refresh()
    } catch (err) { showError(messageOf(err)) }
  }
  const downloadAll = async (keys: string[]): Promise<void> => {
    try {
      for (const k of keys) await download(session, bucket, k, k.slice(prefix.length).replaceAll('/', '_'))
    } catch (err) { showError(messageOf(err)) }
  }

  const crumbs = prefix.split('/').filter(p => p !== '')
  const header = (col: Column, label: string, numeric = false): preact.JSX.Element => {
    const active = sort.by === col
    return <th scope="col" class={numeric ? 'num' : undefined} aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="sort" onClick={() => { setSort({ by: col, desc: active ? !sort.desc : col !== 'name' }) }} aria-label={`Sort by ${label.toLowerCase()}`}>
        {label} {active && (sort.desc ? <ArrowDown size={14} aria-hidden /> : <ArrowUp size={14} aria-hidden />)}
      </button>
    </th>
  }
  const total = folders.length + objects.length

  return <section id="drop" class={`objects${over ? ' over' : ''}${open !== undefined ? ' with-panel' : ''}`} aria-labelledby="objects-title"
    onDragOver={e => { e.preventDefault(); setOver(mayWrite) }} onDragLeave={e => { if (e.currentTarget === e.target) setOver(false) }} onDrop={onDrop}>
    <div class="browser">
      <nav aria-label="Breadcrumb">
        <ul>
          <li><a href={href({ view: 'buckets' })}>Buckets</a></li>
          <li><a href={href({ view: 'objects', bucket, prefix: '' })} aria-label={`Open bucket ${bucket}`}>{bucket}</a></li>
          {crumbs.map((c, i) => <li key={i}><a href={href({ view: 'objects', bucket, prefix: crumbs.slice(0, i + 1).map(p => `${p}/`).join('') })} aria-label={`Open folder ${c}/`}>{c}</a></li>)}
        </ul>
      </nav>
      <div class="view-head">
        <h1 id="objects-title" tabindex={-1}>{crumbs.length === 0 ? bucket : `${crumbs.at(-1)!}/`}</h1>
        {session.can.bucketSettings(bucket) && <a href={href({ view: 'bucket-settings', bucket })} class="button-link icon-text" aria-label={`Settings of bucket ${bucket}`}><Settings size={16} aria-hidden /> Settings</a>}
      </div>
      <div class="toolbar" role="toolbar" aria-label="Objects">
        <form role="search" onSubmit={e => { e.preventDefault(); void refresh() }}>
          <input id="search" type="search" aria-label="Search by prefix" placeholder="Search by prefix" autocomplete="off" value={search} onInput={e => { setSearch(e.currentTarget.value) }} />
        </form>
        {mayWrite && <>
          <label class="button-like icon-text"><Upload size={16} aria-hidden /> Upload files
            <input id="upload" class="picker" type="file" multiple onChange={e => { const f = e.currentTarget.files; if (f !== null) upload([...f].map(file => ({ path: file.name, file }))); e.currentTarget.value = '' }} />
          </label>
          <label class="button-like secondary icon-text"><FolderUp size={16} aria-hidden /> Upload a folder
            <input class="picker" type="file" {...{ webkitdirectory: '' }} onChange={e => { const f = e.currentTarget.files; if (f !== null) upload([...f].map(file => ({ path: file.webkitRelativePath || file.name, file }))); e.currentTarget.value = '' }} />
          </label>
          <button type="button" class="secondary outline icon-text" onClick={() => { setNaming(true) }}><FolderPlus size={16} aria-hidden /> New folder</button>
        </>}
        {!mayWrite && <span class="muted read-only-note">Read only: uploading here is not among your permissions.</span>}
        {mayListVersions && <label class="toggle"><input type="checkbox" role="switch" checked={showDeleted} onChange={e => { setShowDeleted(e.currentTarget.checked); if (!e.currentTarget.checked) setDeleted(undefined) }} /> Show deleted</label>}
      </div>
      {selected.size > 0 && <div class="bulk" role="region" aria-label="Selection">
        <span>{selected.size} selected</span>
        <button type="button" class="secondary small icon-text" onClick={() => { void downloadAll([...selected]) }}><Download size={16} aria-hidden /> Download selected</button>
        {mayDelete && <button type="button" class="danger small icon-text" onClick={() => { setConfirming([...selected]) }}><Trash2 size={16} aria-hidden /> Delete selected</button>}
        <button type="button" class="secondary outline small" onClick={() => { setSelected(new Set()) }}>Clear selection</button>
      </div>}
      {listing !== undefined && total === 0 && (deleted?.rows.length ?? 0) === 0 && <div class="empty">
        <Upload size={40} aria-hidden />
        <p id="list-note" role="status">{search !== '' ? `Nothing starts with "${search}".` : mayWrite ? 'Nothing here yet: upload files or drop them here.' : 'Nothing here yet.'}</p>
      </div>}
      {total > 0 && <div class="table-wrap"><table class={`striped objects-table${session.member ? '' : ' no-copies'}`} aria-label="Objects">
        <thead><tr>
          <th scope="col" class="check"><input type="checkbox" aria-label="Select all" checked={allSelected} onChange={() => { setSelected(allSelected ? new Set() : new Set(drawn.map(o => o.key))) }} /></th>
          {header('name', 'Name')}{header('size', 'Size', true)}{header('modified', 'Last modified')}
          <th scope="col">Copies</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr></thead>
        <tbody>
          {folders.map(f => <tr key={f} class="folder">
            <td class="check" />
            <th scope="row" colSpan={5}><a href={href({ view: 'objects', bucket, prefix: f })} class="icon-text" aria-label={`Open folder ${f.slice(prefix.length)}`}><Folder size={16} aria-hidden /> {f.slice(prefix.length)}</a></th>
          </tr>)}
          {drawn.map(o => {
            const name = o.key.slice(prefix.length)
            const copies = copiesOf(session, bucket, o.key)
            return <tr key={o.key} data-key={o.key} aria-selected={selected.has(o.key)} class={open === o.key ? 'open' : undefined}>
              <td class="check"><input type="checkbox" aria-label={`Select ${name}`} checked={selected.has(o.key)} onChange={() => { toggle(o.key) }} /></td>
              <th scope="row"><a href={href({ view: 'objects', bucket, prefix, open: o.key })} class="icon-text name" aria-label={`Details of ${name}`}><FileIcon size={16} aria-hidden /> <span>{name}</span></a></th>
              <td class="num">{bytes(o.size)}</td>
              <td><time dateTime={new Date(o.modified).toISOString()} title={new Date(o.modified).toLocaleString()}>{ago(o.modified)}</time></td>
              <td>{copies === undefined ? <span class="muted">…</span> : <span class={`badge ${copies.live === 0 ? 'warn' : 'ok'}`} title={copies.holders.map(h => `${h.id.slice(-8)} (${h.state})`).join(', ')}>{copies.live} on node{copies.live === 1 ? '' : 's'}{copies.inTabs > 0 ? ` · +${copies.inTabs} in tabs` : ''}</span>}</td>
              <td class="actions">
                <button type="button" class="secondary outline small" aria-label={`Download ${name}`} onClick={() => { void download(session, bucket, o.key, name).catch(err => { showError(messageOf(err)) }) }}><Download size={16} aria-hidden /></button>
                {mayDelete && <button type="button" class="secondary outline small danger" aria-label={`Delete ${name}`} onClick={() => { setConfirming([o.key]) }}><Trash2 size={16} aria-hidden /></button>}
              </td>
            </tr>
          })}
        </tbody>
      </table></div>}
      {total > 0 && <p id="list-note" class="muted" role="status">
        {`${objects.length.toLocaleString()} object${objects.length === 1 ? '' : 's'}${folders.length > 0 ? `, ${folders.length.toLocaleString()} folder${folders.length === 1 ? '' : 's'}` : ''}`}
        {listing?.truncated === true ? `: the first ${total.toLocaleString()} entries shown; search by prefix to narrow.` : ''}
      </p>}
      {total > shown && <button type="button" class="secondary outline" onClick={() => { setShown(shown + PAGE) }}>Show {Math.min(PAGE, total - shown).toLocaleString()} more</button>}
      {showDeleted && deleted !== undefined && <Deleted rows={deleted.rows} truncated={deleted.truncated} prefix={prefix}
        mayRecover={key => session.can.may('s3:DeleteObjectVersion', objectArn(bucket, key))} onRecover={row => { void recover(row) }} />}
      {mayWrite && <p class="drop-hint muted">Drop files or folders anywhere here to upload them{prefix === '' ? '' : ` into ${prefix}`}.</p>}
    </div>
    {open !== undefined && <ObjectPanel bucket={bucket} objectKey={open} versioning={versioning} objectLock={objectLock} onClose={() => { navigate({ view: 'objects', bucket, prefix }) }} onDeleted={() => { void refresh() }} />}
    {confirming !== undefined && <Dialog title={confirming.length === 1 ? `Delete ${confirming[0]!.slice(prefix.length)}?` : `Delete ${confirming.length} objects?`} onClose={() => { setConfirming(undefined) }}>
      <p>{versioning === 'Enabled'
        ? `${confirming.length === 1 ? 'It' : 'They'} will be hidden on every member of the mesh; every version is kept, and "Show deleted" recovers ${confirming.length === 1 ? 'it' : 'them'}.`
        : `${confirming.length === 1 ? 'The object' : 'They'} will be deleted from every member of the mesh. ${versioning === 'Suspended' ? 'Versions kept while versioning was on stay; the latest does not.' : 'This cannot be undone.'}`}</p>
      <footer>
        <button type="button" class="secondary" onClick={() => { setConfirming(undefined) }}>Cancel</button>
        <button type="button" class="danger" onClick={() => { void remove(confirming) }}>Delete</button>
      </footer>
    </Dialog>}
    {naming && <NewFolder onDone={async name => {
      setNaming(false)
      if (name === undefined) return
      try { await createFolder(session, bucket, prefix + name); await refresh() } catch (err) { showError(messageOf(err)) }
    }} />}
  </section>
}

function NewFolder ({ onDone }: { onDone: (name: string | undefined) => void }): preact.JSX.Element {
  return <Dialog title="New folder" onClose={() => { onDone(undefined) }}>
    <form onSubmit={e => { e.preventDefault(); onDone(String(new FormData(e.currentTarget).get('folder')).replace(/^\/+|\/+$/g, '')) }}>
      <label>Folder name <input name="folder" required pattern="[^\\/]+(/[^\\/]+)*" autofocus /></label>
      <footer>
        <button type="button" class="secondary" onClick={() => { onDone(undefined) }}>Cancel</button>
        <button type="submit">Create folder</button>
      </footer>
    </form>
  </Dialog>
}

/** Keys of this folder whose current version is a delete marker: when each was deleted, and a way to bring it back. */
function Deleted ({ rows, truncated, prefix, mayRecover, onRecover }: { rows: VersionRow[], truncated: boolean, prefix: string, mayRecover: (key: string) => boolean, onRecover: (row: VersionRow) => void }): preact.JSX.Element {
  return <section class="deleted" aria-labelledby="deleted-title">
    <h2 id="deleted-title" class="icon-text"><FileX size={18} aria-hidden /> Deleted</h2>
    {rows.length === 0
      ? <p class="muted" role="status">Nothing deleted here: no object of this folder has a delete marker as its current version.</p>
      : <div class="table-wrap"><table class="striped" aria-label="Deleted objects">
        <thead><tr><th scope="col">Name</th><th scope="col">Deleted</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          {rows.map(r => {
            const name = r.key.slice(prefix.length)
            return <tr key={r.key} data-deleted={r.key}>
              <th scope="row" class="muted"><span class="icon-text"><FileX size={16} aria-hidden /> {name}</span></th>
              <td><time dateTime={new Date(r.modified).toISOString()} title={new Date(r.modified).toLocaleString()}>{ago(r.modified)}</time></td>
              <td class="actions">{mayRecover(r.key) && <button type="button" class="secondary small icon-text" aria-label={`Recover ${name}`} onClick={() => { onRecover(r) }}><Undo2 size={16} aria-hidden /> Recover</button>}</td>
            </tr>
          })}
        </tbody>
      </table></div>}
    {truncated && <p class="muted">Only the first versions of this folder were looked through: search by prefix to narrow.</p>}
  </section>
}
