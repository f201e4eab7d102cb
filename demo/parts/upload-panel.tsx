import { useEffect, useState } from 'preact/hooks'
import { ChevronDown, ChevronUp, RotateCw, X } from 'lucide-preact'
import { useConsole } from '../context.js'
import { bytes, rate } from '../format.js'

/** The upload queue, docked at the bottom: each file's progress and speed, cancel and retry. */
export function UploadPanel (): preact.JSX.Element | null {
  const { uploads } = useConsole()
  const [, setTick] = useState(0)
  const [folded, setFolded] = useState(false)
  useEffect(() => uploads.subscribe(() => { setTick(t => t + 1) }), [uploads])
  const items = uploads.items
  const running = items.filter(u => u.state === 'uploading' || u.state === 'queued').length
  const failed = items.filter(u => u.state === 'failed').length
  // Once everything went up, the list folds away (a failure stays open, to be retried).
  useEffect(() => {
    if (items.length === 0 || running > 0 || failed > 0) return
    const t = setTimeout(() => { setFolded(true) }, 5000)
    return () => { clearTimeout(t) }
  }, [running, failed, items.length])
  useEffect(() => { if (running > 0) setFolded(false) }, [running > 0])
  if (items.length === 0) return null
  return <section class="upload-panel" aria-labelledby="uploads-title">
    <header>
      <h2 id="uploads-title">{running > 0 ? `Uploading ${running} file${running === 1 ? '' : 's'}` : failed > 0 ? `${failed} upload${failed === 1 ? '' : 's'} failed` : 'Uploads done'}</h2>
      {running === 0 && <button type="button" class="secondary outline small" onClick={() => { uploads.clearEnded() }}>Clear</button>}
      <button type="button" class="secondary outline small" aria-expanded={!folded} aria-label={folded ? 'Show uploads' : 'Hide uploads'} onClick={() => { setFolded(!folded) }}>
        {folded ? <ChevronUp size={16} aria-hidden /> : <ChevronDown size={16} aria-hidden />}
      </button>
    </header>
    <ul id="uploads" aria-label="Uploads" hidden={folded}>
      {items.map(u => <li key={u.id} data-state={u.state}>
        <div class="upload-line">
          <span class="name" title={`${u.bucket}/${u.key}`}>{u.key}</span>
          <span class="muted">{u.state === 'uploading' ? `${bytes(u.loaded)} of ${bytes(u.file.size)} · ${rate(u.speed)}` : u.state === 'done' ? bytes(u.file.size) : u.state}</span>
          {(u.state === 'uploading' || u.state === 'queued') && <button type="button" class="secondary outline small" aria-label={`Cancel upload of ${u.key}`} onClick={() => { uploads.cancel(u.id) }}><X size={14} aria-hidden /></button>}
          {(u.state === 'failed' || u.state === 'cancelled') && <button type="button" class="secondary outline small" aria-label={`Retry upload of ${u.key}`} onClick={() => { uploads.retry(u.id) }}><RotateCw size={14} aria-hidden /></button>}
        </div>
        <progress max={Math.max(1, u.file.size)} value={u.state === 'done' ? Math.max(1, u.file.size) : u.loaded} aria-label={`Uploading ${u.key}`} />
        {u.error !== undefined && <small class="error-text">{u.error}</small>}
      </li>)}
    </ul>
  </section>
}
