/**
 * The s3mesh console: logging in registers the service worker and makes this
 * tab a member of the mesh; every request is SigV4-signed here (aws4fetch), so
 * the secret never travels. Kept for the session, or on the device when asked.
 */
import type { AwsClient } from 'aws4fetch'
import { s3Signer } from '../src/core/s3-signer.js'
import { JoinError, register, type Registration } from '../src/browser/index.js'
import { decodeNodeMeta } from '../src/core/membership/node-meta.js'
import { MEMBER_EVENTS } from '../src/core/membership/member-events.js'
import { objectPath } from '../src/core/names.js'
import { explain } from './s3-errors.js'
import { uploadFile } from './upload.js'

interface Credentials { accessKeyId: string, secretAccessKey: string }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const errorBox = $<HTMLParagraphElement>('error')
let client: AwsClient | undefined
let tab: Registration | undefined

function showError (message: string | undefined): void {
  errorBox.hidden = message === undefined
  errorBox.textContent = message ?? ''
}

async function s3 (path: string, init: RequestInit = {}): Promise<Response> {
  if (client === undefined) throw new Error('Not logged in.')
  try {
    return await client.fetch(`${location.origin}/s3${path}`, init)
  } catch (err) {
    // fetch only rejects when no answer came at all.
    throw new Error(`The network is down or the node is gone (${err instanceof Error ? err.message : String(err)}).`)
  }
}

// Whatever fails without its own message is still shown to the person, never swallowed.
window.addEventListener('unhandledrejection', e => {
  showError(e.reason instanceof Error ? e.reason.message : String(e.reason))
})

async function refreshBuckets (): Promise<void> {
  const res = await s3('/')
  if (!res.ok) { showError(await explain(res)); return }
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  const list = $<HTMLUListElement>('bucket-list')
  list.replaceChildren(...[...doc.querySelectorAll('Bucket > Name')].map(n => {
    const name = n.textContent ?? ''
    const li = document.createElement('li')
    const label = document.createElement('button')
    label.type = 'button'
    label.className = 'link'
    label.textContent = name
    label.addEventListener('click', () => {
      void openBucket(name, '')
      // At once (openBucket shows the section before it lists): moving it later would pull the focus from where the person went meanwhile.
      $('objects-title').focus()
    })
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.textContent = 'Delete'
    remove.setAttribute('aria-label', `Delete bucket ${name}`)
    remove.addEventListener('click', () => {
      if (!confirm(`Delete the bucket ${name}?`)) return
      void s3(objectPath(name), { method: 'DELETE' }).then(async r => {
        if (r.ok) { showError(undefined); await refreshBuckets() } else showError(await explain(r))
      })
    })
    li.append(label, remove)
    return li
  }))
}

let current = { bucket: '', prefix: '' }

function button (text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = text
  b.setAttribute('aria-label', label)
  b.addEventListener('click', onClick)
  return b
}

interface Listed { folders: string[], objects: Array<{ key: string, size: number, modified: number }>, truncated: boolean }

/** Stops listing here: a bucket this large is better narrowed by a search than scrolled. */
const LIST_LIMIT = 10_000

/** Every page of one delimited listing (S3 answers 1000 keys at a time), up to LIST_LIMIT keys. */
async function list (bucket: string, prefix: string): Promise<Listed | Response> {
  const listed: Listed = { folders: [], objects: [], truncated: false }
  let token: string | undefined
  do {
    const res = await s3(`${objectPath(bucket)}?list-type=2&delimiter=%2F&prefix=${encodeURIComponent(prefix)}${token === undefined ? '' : `&continuation-token=${encodeURIComponent(token)}`}`)
    if (!res.ok) return res
    const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
    listed.folders.push(...[...doc.querySelectorAll('CommonPrefixes > Prefix')].map(p => p.textContent ?? ''))
    listed.objects.push(...[...doc.querySelectorAll('Contents')].map(c => ({
      key: c.querySelector('Key')?.textContent ?? '',
      size: Number(c.querySelector('Size')?.textContent ?? 0),
      modified: Date.parse(c.querySelector('LastModified')?.textContent ?? ''),
    })))
    token = doc.querySelector('IsTruncated')?.textContent === 'true' ? doc.querySelector('NextContinuationToken')?.textContent ?? undefined : undefined
  } while (token !== undefined && listed.folders.length + listed.objects.length < LIST_LIMIT)
  listed.truncated = token !== undefined
  return listed
}

function bytes (n: number): string {
  if (n < 1024) return `${n} bytes`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { n /= 1024; i++ } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]!}`
}

type Order = 'name-asc' | 'name-desc' | 'size-asc' | 'size-desc' | 'modified-asc' | 'modified-desc'
const ORDERS: Record<Order, (a: Listed['objects'][number], b: Listed['objects'][number]) => number> = {
  'name-asc': (a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
  'name-desc': (a, b) => a.key < b.key ? 1 : a.key > b.key ? -1 : 0,
  'size-asc': (a, b) => a.size - b.size,
  'size-desc': (a, b) => b.size - a.size,
  'modified-asc': (a, b) => a.modified - b.modified,
  'modified-desc': (a, b) => b.modified - a.modified,
}

/** Answers to earlier listings that arrive late (a person typing a search) are dropped. */
let listing = 0

/** A bucket's objects under a prefix (and the search typed), with the next level of prefixes as folders, sorted as chosen. */
async function openBucket (bucket: string, prefix: string): Promise<void> {
  if (bucket !== current.bucket || prefix !== current.prefix) $<HTMLInputElement>('search').value = ''
  if (bucket !== current.bucket) {
    // What was open belongs to the other bucket: its details, and the uploads that finished there.
    $('details').hidden = true
    for (const li of $('uploads').querySelectorAll('li[data-done="true"]')) li.remove()
  }
  current = { bucket, prefix }
  const seq = ++listing
  $('objects').hidden = false
  const crumbs = $<HTMLOListElement>('breadcrumb')
  const parts = prefix.split('/').filter(p => p !== '')
  crumbs.replaceChildren(...[bucket, ...parts].map((part, i) => {
    const li = document.createElement('li')
    li.append(button(part, `Open ${i === 0 ? 'bucket' : 'folder'} ${part}`, () => { void openBucket(bucket, parts.slice(0, i).map(p => `${p}/`).join('')) }))
    return li
  }))
  const search = $<HTMLInputElement>('search').value
  const listed = await list(bucket, prefix + search)
  if (seq !== listing) return
  if (listed instanceof Response) { showError(await explain(listed)); return }
  const order = ORDERS[$<HTMLSelectElement>('sort').value as Order] ?? ORDERS['name-asc']
  const folders = listed.folders.sort((a, b) => order({ key: a, size: 0, modified: 0 }, { key: b, size: 0, modified: 0 }))
  const objects = listed.objects.sort(order)
  $<HTMLUListElement>('object-list').replaceChildren(
    ...folders.map(f => {
      const li = document.createElement('li')
      li.append(button(`${f.slice(prefix.length)}`, `Open folder ${f.slice(prefix.length)}`, () => { void openBucket(bucket, f) }))
      return li
    }),
    ...objects.map(o => {
      const name = o.key.slice(prefix.length)
      const li = document.createElement('li')
      const label = document.createElement('span')
      label.className = 'name'
      label.textContent = `${name} (${bytes(o.size)})`
      label.title = `${o.size} bytes, last modified ${new Date(o.modified).toLocaleString()}`
      const path = objectPath(bucket, o.key)
      const actions = document.createElement('span')
      actions.className = 'actions'
      actions.append(
        button('Details', `Details of ${name}`, () => { void details(bucket, o.key) }),
        button('Download', `Download ${name}`, () => { void download(path, name) }),
        button('Delete', `Delete ${name}`, () => {
          if (!confirm(`Delete ${o.key}?`)) return
          void s3(path, { method: 'DELETE' }).then(async r => { if (r.ok) await openBucket(bucket, prefix); else showError(await explain(r)) })
        }))
      li.append(label, actions)
      return li
    }),
  )
  const shown = folders.length + objects.length
  $('list-note').textContent = listed.truncated
    ? `Showing the first ${shown.toLocaleString()} entries: search by prefix to narrow.`
    : shown === 0 ? (search === '' ? 'Nothing here yet: upload files or drop them above.' : `Nothing starts with "${search}".`) : ''
}

let searchTimer: ReturnType<typeof setTimeout> | undefined
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => { void openBucket(current.bucket, current.prefix) }, 200)
})
$('sort').addEventListener('change', () => { void openBucket(current.bucket, current.prefix) })
$('list-options').addEventListener('submit', e => { e.preventDefault(); void openBucket(current.bucket, current.prefix) })

/** What the cluster knows of one object: S3's headers, and from the node which members hold it. */
async function details (bucket: string, key: string): Promise<void> {
  const path = objectPath(bucket, key)
  const head = await s3(path, { method: 'HEAD' })
  if (!head.ok) { showError(`${key}: ${head.status === 404 ? 'no longer exists' : `HTTP ${head.status}`}`); return }
  const located = await client!.fetch(`${location.origin}/_s3mesh/v1/locate${path}`)
  const holders = located.ok ? ((await located.json()) as { holders: Array<{ id: string, state: string }> }).holders : []
  const rows: Array<[string, string]> = [
    ['Key', key],
    ['Size', `${head.headers.get('content-length') ?? '?'} bytes`],
    ['Type', head.headers.get('content-type') ?? ''],
    ['ETag', head.headers.get('etag') ?? ''],
    ['Last modified', head.headers.get('last-modified') ?? ''],
    ...[...head.headers].filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]): [string, string] => [`Metadata ${k.slice(11)}`, v]),
    ['Held by', holders.map(h => `${h.id.slice(-8)} (${h.state})`).join(', ') || 'this tab only'],
  ]
  $<HTMLDListElement>('details-list').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt')
    dt.textContent = k
    const dd = document.createElement('dd')
    dd.textContent = v
    return [dt, dd]
  }))
  $('details').hidden = false
  $('details').dataset.path = path
  // Keyboard and screen-reader users land on what they opened.
  $('details-title').focus()
  $<HTMLInputElement>('share-link').value = ''
}

/** A presigned GET link (S3 allows up to 7 days), which anyone can open without logging in. */
$<HTMLFormElement>('share').addEventListener('submit', e => {
  e.preventDefault()
  const expiry = Number(new FormData(e.target as HTMLFormElement).get('expiry'))
  const url = new URL(`${location.origin}/s3${$('details').dataset.path ?? ''}`)
  url.searchParams.set('X-Amz-Expires', String(Math.min(expiry, 604800)))
  void client!.sign(url.toString(), { method: 'GET', aws: { signQuery: true } }).then(signed => {
    $<HTMLInputElement>('share-link').value = signed.url
  })
})
$('copy-link').addEventListener('click', () => {
  const link = $<HTMLInputElement>('share-link').value
  void navigator.clipboard.writeText(link).then(() => { $('connection').textContent = 'Link copied.' }, () => {
    // No clipboard permission (an http:// page): select it for the person to copy.
    $<HTMLInputElement>('share-link').select()
  })
})

async function download (path: string, name: string): Promise<void> {
  const res = await s3(path)
  if (!res.ok) { showError(await explain(res)); return }
  const a = document.createElement('a')
  a.href = URL.createObjectURL(await res.blob())
  a.download = name
  a.click()
  setTimeout(() => { URL.revokeObjectURL(a.href) }, 10_000)
}

/** Uploads files into the open bucket and prefix, each with its own progress bar. */
async function upload (files: FileList | File[]): Promise<void> {
  const { bucket, prefix } = current
  const list = $<HTMLUListElement>('uploads')
  await Promise.all([...files].map(async file => {
    const li = document.createElement('li')
    const bar = document.createElement('progress')
    bar.max = 1
    bar.value = 0
    bar.setAttribute('aria-label', `Uploading ${file.name}`)
    li.append(file.name, bar)
    list.append(li)
    try {
      await uploadFile(client!, bucket, prefix + file.name, file, fraction => { bar.value = fraction })
      bar.value = 1
      li.dataset.done = 'true'
    } catch (err) {
      showError(`Upload of ${file.name} failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }))
  await openBucket(bucket, prefix)
}

$<HTMLInputElement>('upload').addEventListener('change', e => { const f = (e.target as HTMLInputElement).files; if (f !== null) void upload(f) })
const drop = $('drop')
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over') })
drop.addEventListener('dragleave', () => { drop.classList.remove('over') })
drop.addEventListener('drop', e => {
  e.preventDefault()
  drop.classList.remove('over')
  if (e.dataTransfer !== null) void upload(e.dataTransfer.files)
})

const SVG = 'http://www.w3.org/2000/svg'

/** The members as this tab sees them: a table (state, role, RTT; this tab marked) and a graph of who this tab is connected to. */
function renderMesh (): void {
  const members = tab?.membership?.list() ?? []
  const alive = members.filter(m => m.state === 'alive').length
  $('connection').textContent = `This tab is a member of the mesh (${alive} member${alive === 1 ? '' : 's'} alive).`
  const connections = tab?.node?.libp2p.getConnections() ?? []
  const connected = new Set(connections.map(c => c.remotePeer.toString()))
  $<HTMLTableSectionElement>('member-rows').replaceChildren(...members.map(m => {
    const tr = document.createElement('tr')
    if (m.self) tr.className = 'self'
    const role = decodeNodeMeta(m.meta)?.role ?? '?'
    for (const text of [`${m.id.slice(-8)}${m.self ? ' (this tab)' : ''}`, role, m.state, m.rttMs === undefined ? '' : `${m.rttMs.toFixed(1)} ms`]) {
      const td = document.createElement('td')
      td.textContent = text
      tr.append(td)
    }
    return tr
  }))
  const graph = $('mesh-graph') as unknown as SVGSVGElement
  const at = (i: number): [number, number] => [Math.cos(2 * Math.PI * i / members.length) * 80, Math.sin(2 * Math.PI * i / members.length) * 80]
  const self = members.findIndex(m => m.self)
  const shapes: SVGElement[] = []
  members.forEach((m, i) => {
    if (i === self || !connected.has(m.id)) return
    const line = document.createElementNS(SVG, 'line')
    const [[x1, y1], [x2, y2]] = [at(self), at(i)]
    Object.entries({ x1, y1, x2, y2, stroke: '#8c959f' }).forEach(([k, v]) => { line.setAttribute(k, String(v)) })
    shapes.push(line)
  })
  members.forEach((m, i) => {
    const circle = document.createElementNS(SVG, 'circle')
    const [cx, cy] = at(i)
    const fill = m.self ? '#2f6feb' : m.state === 'alive' ? '#1a7f37' : m.state === 'suspect' ? '#bf8700' : '#8c959f'
    Object.entries({ cx, cy, r: 10, fill }).forEach(([k, v]) => { circle.setAttribute(k, String(v)) })
    const title = document.createElementNS(SVG, 'title')
    title.textContent = `${m.id} (${m.state})`
    circle.append(title)
    shapes.push(circle)
  })
  graph.replaceChildren(...shapes)
  const relays = connections.filter(c => c.remoteAddr.toString().includes('/ws')).length
  const webrtc = connections.filter(c => c.remoteAddr.toString().includes('/webrtc')).length
  $('tab-connections').textContent = `This tab: ${relays} Node node${relays === 1 ? '' : 's'} over WebSockets, ${webrtc} tab${webrtc === 1 ? '' : 's'} over WebRTC.`
}

/** Runs `f` at most once a `ms`, the last call not lost: a burst of changes costs one listing. */
function throttled (ms: number, f: () => Promise<void>): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    timer ??= setTimeout(() => { timer = undefined; void f() }, ms)
  }
}

/** Recent catalog changes this tab heard of (its own and the mesh's), newest first; the lists shown follow them. */
function watchFeed (): void {
  const feed = $<HTMLOListElement>('feed')
  const buckets = throttled(1000, refreshBuckets)
  const objects = throttled(1000, async () => { if (!$('objects').hidden) await openBucket(current.bucket, current.prefix) })
  tab?.node?.node.catalog.addEventListener('change', e => {
    const entry = e.detail
    if (entry.key === undefined) {
      buckets()
      if (entry.deleted && entry.bucket === current.bucket) { $('objects').hidden = true; $('details').hidden = true; current = { bucket: '', prefix: '' } }
    } else if (entry.bucket === current.bucket) objects()
    const li = document.createElement('li')
    li.textContent = `${new Date().toLocaleTimeString()} ${entry.deleted ? 'deleted' : entry.key === undefined ? 'bucket' : 'put'} ${entry.bucket}/${entry.key ?? ''}${entry.deleted ? '' : ` (${entry.holders.length} holder${entry.holders.length === 1 ? '' : 's'})`}`
    feed.prepend(li)
    while (feed.children.length > 50) feed.lastElementChild?.remove()
  })
}

async function logIn (creds: Credentials, remember: boolean): Promise<void> {
  $('connection').textContent = 'Joining the mesh…'
  try {
    tab = await register(creds)
  } catch (err) {
    $('connection').textContent = ''
    showError(err instanceof JoinError && /\(403\)/.test(err.message) ? 'Wrong access key or secret key.' : `Could not start: ${err instanceof Error ? err.message : String(err)}`)
    return
  }
  client = s3Signer(creds)
  ;(remember ? localStorage : sessionStorage).setItem('s3mesh-credentials', JSON.stringify(creds))
  showError(undefined)
  $('login').hidden = true
  $('buckets').hidden = false
  $('mesh').hidden = false
  for (const name of MEMBER_EVENTS) tab.membership?.addEventListener(name, renderMesh)
  // RTTs and connections change without member events.
  setInterval(renderMesh, 2000)
  renderMesh()
  watchFeed()
  await refreshBuckets()
}

$<HTMLFormElement>('login').addEventListener('submit', e => {
  e.preventDefault()
  const form = new FormData(e.target as HTMLFormElement)
  void logIn({ accessKeyId: String(form.get('accessKeyId')), secretAccessKey: String(form.get('secretAccessKey')) }, form.get('remember') !== null)
})

$<HTMLFormElement>('create-bucket').addEventListener('submit', e => {
  e.preventDefault()
  const form = e.target as HTMLFormElement
  const name = String(new FormData(form).get('name')).trim()
  void s3(objectPath(name), { method: 'PUT' }).then(async r => {
    if (!r.ok) { showError(await explain(r)); return }
    showError(undefined)
    form.reset()
    await refreshBuckets()
  }, (err: unknown) => { showError(`The network is down or the node is gone: ${String(err)}`) })
})

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem('s3mesh-credentials')
  localStorage.removeItem('s3mesh-credentials')
  void tab?.stop()
  location.reload()
})

const saved = sessionStorage.getItem('s3mesh-credentials') ?? localStorage.getItem('s3mesh-credentials')
if (saved !== null) void logIn(JSON.parse(saved) as Credentials, localStorage.getItem('s3mesh-credentials') !== null)
