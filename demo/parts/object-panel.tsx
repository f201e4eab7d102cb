import { useEffect, useState } from 'preact/hooks'
import { Copy, Download, History, Share2, Trash2, X } from 'lucide-preact'
import { objectPath } from '../../src/core/names.js'
import { copiesOf } from '../catalog-view.js'
import { objectArn } from '../permissions.js'
import { messageOf, useConsole } from '../context.js'
import { bytes, moment, shortId } from '../format.js'
import { bucketArn } from '../permissions.js'
import { deleteObject, deleteVersion, download, getTags, headObject, keyVersions, putMetadata, putTags, restoreVersion, type ObjectHead, type Versioning, type VersionRow } from '../s3-api.js'
import { Preview } from './preview.js'
import { Protection } from './protection.js'

/**
 * The open object: a preview, what S3 and the mesh know of it, its metadata
 * and tags (editable), its object lock protection, its versions in a bucket that keeps them (download,
 * restore, delete for good), a share link, download and delete.
 */
export function ObjectPanel ({ bucket, objectKey, versioning, objectLock, onClose, onDeleted }: { bucket: string, objectKey: string, versioning: Versioning, objectLock: boolean, onClose: () => void, onDeleted: () => void }): preact.JSX.Element {
  const { session, watch, showError, notify } = useConsole()
  const [head, setHead] = useState<ObjectHead>()
  const [tags, setTags] = useState<Record<string, string>>()
  const [link, setLink] = useState('')
  const name = objectKey.slice(objectKey.lastIndexOf('/', objectKey.length - 2) + 1)
  const [tagsError, setTagsError] = useState<string>()
  /** Bumped when a version is restored or deleted here: the head, tags and versions are read again. */
  const [revision, setRevision] = useState(0)
  useEffect(() => {
    // Answers about an object opened before this one are dropped (they would show, and save, the wrong object's data).
    let current = true
    setHead(undefined); setTags(undefined); setTagsError(undefined); setLink('')
    headObject(session, bucket, objectKey).then(h => { if (current) setHead(h) }, err => { if (current) showError(messageOf(err)) })
    // Tags that could not be read are not shown as none: saving would replace the real ones.
    getTags(session, bucket, objectKey).then(t => { if (current) setTags(t) }, err => { if (current) setTagsError(messageOf(err)) })
    // Keyboard and screen-reader users land on what they opened.
    document.getElementById('details-title')?.focus()
    return () => { current = false }
  }, [bucket, objectKey, revision])
  const copies = copiesOf(session, bucket, objectKey)
  void watch
  const may = (action: string): boolean => session.can.may(action, objectArn(bucket, objectKey))

  const share = async (e: Event): Promise<void> => {
    e.preventDefault()
    const expiry = Number(new FormData(e.currentTarget as HTMLFormElement).get('expiry'))
    setLink(await session.presign(objectPath(bucket, objectKey), expiry))
  }
  const copyLink = (): void => {
    void navigator.clipboard.writeText(link).then(() => { notify('Link copied.') }, () => {
      // No clipboard permission (an http:// page): select it for the person to copy.
      (document.getElementById('share-link') as HTMLInputElement | null)?.select()
    })
  }

  return <aside id="details" class="panel" aria-labelledby="details-title">
    <header class="panel-head">
      <h2 id="details-title" tabindex={-1} title={objectKey}>{name}</h2>
      <button type="button" class="secondary outline small" aria-label="Close the object panel" onClick={onClose}><X size={16} aria-hidden /></button>
    </header>
    {head !== undefined && <Preview bucket={bucket} objectKey={objectKey} head={head} />}
    <div class="row">
      <button type="button" class="small icon-text" onClick={() => { void download(session, bucket, objectKey, name).catch(err => { showError(messageOf(err)) }) }}><Download size={16} aria-hidden /> Download</button>
      {may('s3:DeleteObject') && <button type="button" class="small danger outline icon-text" onClick={() => {
        if (!confirm(versioning === 'Enabled' ? `Delete ${objectKey}? Its versions are kept: "Show deleted" recovers it.` : `Delete ${objectKey}?`)) return
        void deleteObject(session, bucket, objectKey).then(() => { notify(`Deleted ${name}.`); onDeleted(); onClose() }, err => { showError(messageOf(err)) })
      }}><Trash2 size={16} aria-hidden /> Delete</button>}
    </div>
    <h3>Details</h3>
    <dl id="details-list">
      <dt>Key</dt><dd>{objectKey}</dd>
      {head !== undefined && <>
        <dt>Size</dt><dd>{head.size === 1 ? '1 byte' : `${head.size.toLocaleString()} bytes`}{head.size >= 1024 ? ` (${bytes(head.size)})` : ''}</dd>
        <dt>Type</dt><dd>{head.type}</dd>
        <dt>ETag</dt><dd class="mono">{head.etag}</dd>
        <dt>Last modified</dt><dd>{head.modified}</dd>
      </>}
      {session.member && <>
        <dt>Held by</dt>
        <dd>{copies === undefined || copies.holders.length === 0 ? 'this tab only' : copies.holders.map(h => `${shortId(h.id)} (${h.state})`).join(', ')}
          {copies !== undefined && copies.live === 0 ? ' — on no node alive now' : ''}</dd>
      </>}
    </dl>
    {head !== undefined && <Pairs title="Metadata" what="metadata" initial={head.metadata} editable={may('s3:PutObject')} onSave={async m => { await putMetadata(session, bucket, objectKey, head, m); setHead({ ...head, metadata: m }) }} />}
    {tags !== undefined && <Pairs title="Tags" what="tag" initial={tags} editable={may('s3:PutObjectTagging')} onSave={async t => { await putTags(session, bucket, objectKey, t); setTags(t) }} />}
    {head !== undefined && (objectLock || Object.keys(head.lock).length > 0) && <Protection bucket={bucket} objectKey={objectKey} head={head} onChanged={() => { setRevision(r => r + 1) }} />}
    {tagsError !== undefined && <section class="pairs" aria-label="Tags"><h3>Tags</h3><p class="error-text">The tags could not be read: {tagsError}</p></section>}
    {versioning !== undefined && session.can.may('s3:ListBucketVersions', bucketArn(bucket)) &&
      <Versions bucket={bucket} objectKey={objectKey} name={name} revision={revision} onChanged={() => { setRevision(r => r + 1); onDeleted() }} onGone={() => { onDeleted(); onClose() }} />}
    <h3>Share</h3>
    <form id="share" class="share" onSubmit={e => { void share(e) }}>
      <label>Link valid for{' '}
        <select name="expiry">
          <option value="3600">1 hour</option>
          <option value="86400">1 day</option>
          <option value="604800">7 days</option>
        </select>
      </label>
      <button type="submit" class="icon-text"><Share2 size={16} aria-hidden /> Share</button>
    </form>
    <div role="group" class="link-row">
      <input id="share-link" aria-label="Share link" readonly value={link} placeholder="A link anyone can open, without logging in" />
      <button id="copy-link" type="button" class="secondary icon-text" disabled={link === ''} onClick={copyLink}><Copy size={16} aria-hidden /> Copy link</button>
    </div>
  </aside>
}

/** Key-value pairs (metadata or tags) shown, and edited in place. */
function Pairs ({ title, what, initial, editable, onSave }: { title: string, what: string, initial: Record<string, string>, editable: boolean, onSave: (p: Record<string, string>) => Promise<void> }): preact.JSX.Element {
  const { showError, notify } = useConsole()
  const [editing, setEditing] = useState<Array<[string, string]>>()
  const entries = Object.entries(initial)
  if (editing === undefined) {
    return <section class="pairs" aria-label={title}>
      <div class="pairs-head"><h3>{title}</h3>{editable && <button type="button" class="secondary outline small" onClick={() => { setEditing(entries.length === 0 ? [['', '']] : entries) }}>Edit {title.toLowerCase()}</button>}</div>
      {entries.length === 0 ? <p class="muted">No {what === 'tag' ? 'tags' : 'metadata'}.</p> : <dl>{entries.map(([k, v]) => <><dt key={`k${k}`}>{k}</dt><dd key={`v${k}`}>{v}</dd></>)}</dl>}
    </section>
  }
  return <form class="pairs" aria-label={`Edit ${title.toLowerCase()}`} onSubmit={e => {
    e.preventDefault()
    const next = Object.fromEntries(editing.filter(([k]) => k.trim() !== '').map(([k, v]) => [k.trim(), v]))
    onSave(next).then(() => { setEditing(undefined); notify(`${title} saved.`) }, err => { showError(messageOf(err)) })
  }}>
    <h3>{title}</h3>
    {editing.map(([k, v], i) => <div class="pair" key={i}>
      <input aria-label={`${title} ${i + 1} name`} value={k} onInput={e => { const n = [...editing]; n[i] = [e.currentTarget.value, v]; setEditing(n) }} />
      <input aria-label={`${title} ${i + 1} value`} value={v} onInput={e => { const n = [...editing]; n[i] = [k, e.currentTarget.value]; setEditing(n) }} />
      <button type="button" class="secondary outline small" aria-label={`Remove ${what} ${k}`} onClick={() => { setEditing(editing.filter((_, j) => j !== i)) }}><X size={14} aria-hidden /></button>
    </div>)}
    <div class="row">
      <button type="button" class="secondary outline small" onClick={() => { setEditing([...editing, ['', '']]) }}>Add {what}</button>
      <button type="submit" class="small">Save {title.toLowerCase()}</button>
      <button type="button" class="secondary small" onClick={() => { setEditing(undefined) }}>Cancel</button>
    </div>
  </form>
}

/** A key's versions, newest first: each downloaded, an old one restored (copied over the key, a new version), or one deleted for good. */
function Versions ({ bucket, objectKey, name, revision, onChanged, onGone }: { bucket: string, objectKey: string, name: string, revision: number, onChanged: () => void, onGone: () => void }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [listed, setListed] = useState<{ versions: VersionRow[], truncated: boolean }>()
  const [busy, setBusy] = useState<string>()
  useEffect(() => {
    const asked = new AbortController()
    setListed(undefined)
    keyVersions(session, bucket, objectKey, asked.signal).then(setListed, err => { if (!asked.signal.aborted) showError(messageOf(err)) })
    return () => { asked.abort() }
  }, [bucket, objectKey, revision])
  const may = (action: string): boolean => session.can.may(action, objectArn(bucket, objectKey))
  const act = async (v: VersionRow, what: string, work: () => Promise<void>, gone = false): Promise<void> => {
    setBusy(v.versionId)
    try {
      await work()
      showError(undefined)
      notify(what)
      if (gone) onGone(); else onChanged()
    } catch (err) { showError(messageOf(err)) }
    setBusy(undefined)
  }
  /** Whether deleting `v` leaves the key with no object to show: it was current, and what comes after it is a delete marker or nothing. */
  const lastOfKey = (v: VersionRow): boolean => {
    const all = listed?.versions ?? []
    const next = all[all.indexOf(v) + 1]
    return v.latest && (next === undefined || next.marker)
  }
  /** Versions are numbered from the oldest listed, as people count them. */
  const number = (v: VersionRow): number => (listed?.versions.length ?? 0) - (listed?.versions.indexOf(v) ?? 0)
  const label = (v: VersionRow): string => `version ${number(v)} (${moment(v.modified)})`
  return <section class="versions" aria-labelledby="versions-title">
    <h3 id="versions-title"><span class="icon-text"><History size={16} aria-hidden /> Versions</span></h3>
    {listed === undefined ? <p class="muted" aria-busy="true">Reading the versions…</p> : <>
      <table class="striped versions-table" aria-label={`Versions of ${name}`}>
        <thead><tr><th scope="col">Saved</th><th scope="col" class="num">Size</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          {listed.versions.map(v => <tr key={v.versionId} data-version={v.versionId} class={v.latest ? 'current' : undefined}>
            <th scope="row">
              <span class="muted">{number(v)}.</span> <time dateTime={new Date(v.modified).toISOString()} title={`Version id ${v.versionId}`}>{moment(v.modified)}</time>
              {v.latest && <> <span class="badge ok">current</span></>}
              {v.marker && <> <span class="badge warn">deleted</span></>}
            </th>
            <td class="num">{v.marker ? '' : bytes(v.size)}</td>
            <td class="actions">
              {!v.marker && may('s3:GetObjectVersion') && <button type="button" class="secondary outline small" aria-label={`Download ${label(v)}`} title="Download this version"
                onClick={() => { void download(session, bucket, objectKey, name, v.versionId).catch(err => { showError(messageOf(err)) }) }}><Download size={16} aria-hidden /></button>}
              {!v.marker && !v.latest && may('s3:GetObjectVersion') && may('s3:PutObject') && <button type="button" class="small" disabled={busy !== undefined} aria-busy={busy === v.versionId} aria-label={`Restore ${label(v)}`}
                onClick={() => { void act(v, `Restored ${label(v)}: a copy of it is current now.`, async () => { await restoreVersion(session, bucket, objectKey, v.versionId) }) }}>Restore</button>}
              {may('s3:DeleteObjectVersion') && <button type="button" class="secondary outline small danger" disabled={busy !== undefined} aria-label={`Delete ${label(v)} for good`} title="Delete this version for good"
                onClick={() => {
                  if (!confirm(`Delete ${label(v)} of ${name} for good? This cannot be undone.`)) return
                  void act(v, `Deleted ${label(v)}.`, async () => { await deleteVersion(session, bucket, objectKey, v.versionId) }, lastOfKey(v))
                }}><Trash2 size={16} aria-hidden /></button>}
            </td>
          </tr>)}
        </tbody>
      </table>
      {listed.truncated && <p class="muted">The newest {listed.versions.length.toLocaleString()} versions are shown; a lifecycle rule can remove older ones.</p>}
    </>}
  </section>
}
