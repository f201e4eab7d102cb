import { useEffect, useState } from 'preact/hooks'
import DOMPurify from 'dompurify'
import { marked } from 'marked'
import { objectPath } from '../../src/core/names.js'
import { useConsole } from '../context.js'
import type { ObjectHead } from '../s3-api.js'

/** Text shown at most, bytes (a Range request: a large log is not fetched whole). */
const TEXT_BYTES = 256 * 1024
/** Preview links live this long: the panel is open for minutes, not days. */
const LINK_SECONDS = 3600

/**
 * Markdown is somebody's text rendered in the console's page: no styles (which
 * could restyle the console), no forms or inputs (a fake login), no ids or
 * names (which could stand in for the console's own elements).
 */
const SANITIZE = { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'], FORBID_ATTR: ['style', 'id', 'name', 'form', 'formaction'] }

type Kind = 'image' | 'video' | 'audio' | 'pdf' | 'markdown' | 'json' | 'text' | 'none'

function kindOf (key: string, type: string): Kind {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase()
  if (type.startsWith('image/')) return 'image'
  if (type.startsWith('video/')) return 'video'
  if (type.startsWith('audio/')) return 'audio'
  // Only what is stored as a PDF, never by its name alone: the frame shows the object on the console's own origin.
  if (type === 'application/pdf') return 'pdf'
  if (type === 'text/markdown' || ext === 'md' || ext === 'markdown') return 'markdown'
  if (type === 'application/json' || ext === 'json') return 'json'
  if (type.startsWith('text/') || ['txt', 'log', 'csv', 'xml', 'yaml', 'yml', 'toml', 'js', 'ts', 'css', 'html'].includes(ext)) return 'text'
  return 'none'
}

/**
 * An object's preview: media from a presigned link (so the browser's own
 * player fetches it, with Range requests when it seeks), text from the first
 * 256 KiB, Markdown rendered and sanitised.
 */
export function Preview ({ bucket, objectKey, head }: { bucket: string, objectKey: string, head: ObjectHead }): preact.JSX.Element {
  const { session } = useConsole()
  const kind = kindOf(objectKey, head.type)
  const [url, setUrl] = useState<string>()
  const [text, setText] = useState<string>()
  const path = objectPath(bucket, objectKey)
  useEffect(() => {
    setUrl(undefined); setText(undefined)
    if (kind === 'none') return
    // The type is fixed in the link (response-content-type): whatever the bytes are, the browser treats them as that type.
    if (['image', 'video', 'audio', 'pdf'].includes(kind)) { void session.presign(path, LINK_SECONDS, { 'response-content-type': head.type }).then(setUrl); return }
    void session.s3(path, { headers: { range: `bytes=0-${TEXT_BYTES - 1}` } }).then(async r => { setText(r.ok ? await r.text() : `(${r.status})`) })
  }, [bucket, objectKey, head.etag])
  const cut = head.size > TEXT_BYTES ? <p class="muted">The first {TEXT_BYTES / 1024} KiB of {head.size.toLocaleString()} bytes.</p> : null
  return <figure class="preview" aria-label={`Preview of ${objectKey}`}>
    {kind === 'none' && <p class="muted">No preview for {head.type === '' ? 'this type' : head.type}: download it to open it.</p>}
    {kind === 'image' && url !== undefined && <img src={url} alt={objectKey} />}
    {kind === 'video' && url !== undefined && <video src={url} controls preload="metadata" />}
    {kind === 'audio' && url !== undefined && <audio src={url} controls preload="metadata" />}
    {kind === 'pdf' && url !== undefined && <iframe src={url} title={`PDF ${objectKey}`} referrerpolicy="no-referrer" />}
    {kind === 'json' && text !== undefined && <>{cut}<pre class="code">{pretty(text)}</pre></>}
    {kind === 'text' && text !== undefined && <>{cut}<pre class="code">{text}</pre></>}
    {kind === 'markdown' && text !== undefined && <>{cut}<div class="markdown" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(marked.parse(text, { async: false }), SANITIZE) }} /></>}
  </figure>
}

function pretty (text: string): string {
  try { return JSON.stringify(JSON.parse(text), null, 2) } catch { return text }
}
