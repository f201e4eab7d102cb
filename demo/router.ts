/**
 * The console's places, in the URL's hash so that a reload, back and forward
 * keep them and a link to a bucket and folder can be shared:
 *   #/buckets, #/buckets/<bucket>/settings, #/browse/<bucket>/<prefix>?open=<key>,
 *   #/mesh, #/monitoring,
 *   #/access/users[/<name>], #/access/groups[/<name>], #/access/policies[/<name>], #/access/policies?new
 */
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { view: 'buckets' }
  | { view: 'bucket-settings', bucket: string }
  | { view: 'objects', bucket: string, prefix: string, open?: string }
  | { view: 'mesh' }
  | { view: 'monitoring' }
  | { view: 'access', tab: AccessTab, name?: string, create?: boolean }

export type AccessTab = 'users' | 'groups' | 'policies'
const ACCESS_TABS: readonly string[] = ['users', 'groups', 'policies']

const enc = (s: string): string => s.split('/').map(encodeURIComponent).join('/')

export function href (r: Route): string {
  switch (r.view) {
    case 'buckets': return '#/buckets'
    case 'bucket-settings': return `#/buckets/${encodeURIComponent(r.bucket)}/settings`
    case 'objects': return `#/browse/${encodeURIComponent(r.bucket)}/${enc(r.prefix)}${r.open === undefined ? '' : `?open=${encodeURIComponent(r.open)}`}`
    case 'mesh': return '#/mesh'
    case 'monitoring': return '#/monitoring'
    case 'access': return `#/access/${r.tab}${r.name === undefined ? '' : `/${encodeURIComponent(r.name)}`}${r.create === true ? '?new' : ''}`
  }
}

export function parse (hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?')
  const parts = path.split('/').slice(1)
  const dec = (s: string): string => { try { return decodeURIComponent(s) } catch { return s } }
  if (parts[0] === 'browse' && parts[1] !== undefined && parts[1] !== '') {
    const open = new URLSearchParams(query).get('open')
    return { view: 'objects', bucket: dec(parts[1]), prefix: parts.slice(2).map(dec).join('/'), ...(open === null ? {} : { open }) }
  }
  if (parts[0] === 'buckets' && parts[1] !== undefined && parts[2] === 'settings') return { view: 'bucket-settings', bucket: dec(parts[1]) }
  if (parts[0] === 'mesh') return { view: 'mesh' }
  if (parts[0] === 'monitoring') return { view: 'monitoring' }
  if (parts[0] === 'access') {
    const tab = (ACCESS_TABS.includes(parts[1] ?? '') ? parts[1] : 'users') as AccessTab
    const name = parts[2] === undefined || parts[2] === '' ? undefined : dec(parts[2])
    return { view: 'access', tab, ...(name === undefined ? {} : { name }), ...(new URLSearchParams(query).has('new') ? { create: true } : {}) }
  }
  return { view: 'buckets' }
}

export function navigate (r: Route, options: { replace?: boolean } = {}): void {
  if (options.replace === true) history.replaceState(null, '', href(r))
  else location.hash = href(r)
  if (options.replace === true) window.dispatchEvent(new HashChangeEvent('hashchange'))
}

/** The current route, following the hash. */
export function useRoute (): Route {
  const [route, setRoute] = useState(() => parse(location.hash))
  useEffect(() => {
    const on = (): void => { setRoute(parse(location.hash)) }
    window.addEventListener('hashchange', on)
    return () => { window.removeEventListener('hashchange', on) }
  }, [])
  return route
}
