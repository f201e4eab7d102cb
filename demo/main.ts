/**
 * The s3mesh console: logging in registers the service worker and makes this
 * tab a member of the mesh; every request is SigV4-signed here (aws4fetch), so
 * the secret never travels. Kept for the session, or on the device when asked.
 */
import { AwsClient } from 'aws4fetch'
import { JoinError, register, type Registration } from '../src/browser/index.js'

interface Credentials { accessKeyId: string, secretAccessKey: string }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const errorBox = $<HTMLParagraphElement>('error')
let client: AwsClient | undefined
let tab: Registration | undefined

function showError (message: string | undefined): void {
  errorBox.hidden = message === undefined
  errorBox.textContent = message ?? ''
}

/** S3 errors come as XML: the code and message, in plain words where we know better ones. */
async function explain (res: Response): Promise<string> {
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  const code = doc.querySelector('Code')?.textContent ?? `HTTP ${res.status}`
  const message = doc.querySelector('Message')?.textContent ?? ''
  switch (code) {
    case 'InvalidBucketName': return 'That is not a valid bucket name: use 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.'
    case 'BucketNotEmpty': return 'The bucket is not empty: delete its objects first.'
    case 'BucketAlreadyOwnedByYou': case 'BucketAlreadyExists': return 'A bucket with that name already exists.'
    case 'SignatureDoesNotMatch': case 'InvalidAccessKeyId': return 'Wrong access key or secret key.'
    default: return `${code}: ${message}`
  }
}

async function s3 (path: string, init: RequestInit = {}): Promise<Response> {
  if (client === undefined) throw new Error('Not logged in.')
  return await client.fetch(`${location.origin}/s3${path}`, init)
}

async function refreshBuckets (): Promise<void> {
  const res = await s3('/')
  if (!res.ok) { showError(await explain(res)); return }
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml')
  const list = $<HTMLUListElement>('bucket-list')
  list.replaceChildren(...[...doc.querySelectorAll('Bucket > Name')].map(n => {
    const name = n.textContent ?? ''
    const li = document.createElement('li')
    const label = document.createElement('span')
    label.textContent = name
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.textContent = 'Delete'
    remove.setAttribute('aria-label', `Delete bucket ${name}`)
    remove.addEventListener('click', () => {
      if (!confirm(`Delete the bucket ${name}?`)) return
      void s3(`/${encodeURIComponent(name)}`, { method: 'DELETE' }).then(async r => {
        if (r.ok) { showError(undefined); await refreshBuckets() } else showError(await explain(r))
      })
    })
    li.append(label, remove)
    return li
  }))
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
  client = new AwsClient({ ...creds, service: 's3', region: 'us-east-1' })
  ;(remember ? localStorage : sessionStorage).setItem('s3mesh-credentials', JSON.stringify(creds))
  showError(undefined)
  $('connection').textContent = `This tab is a member of the mesh (${tab.membership?.list().length ?? 0} members).`
  $('login').hidden = true
  $('buckets').hidden = false
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
  void s3(`/${encodeURIComponent(name)}`, { method: 'PUT' }).then(async r => {
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
