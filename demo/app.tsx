/**
 * The console's frame: the login until a session exists, then a header (the
 * mesh's name, this tab's state, the user, log out), the navigation and the
 * routed view.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { Activity, Boxes, Database, LogOut, Network } from 'lucide-preact'
import { Ctx, type ConsoleContext } from './context.js'
import { MeshWatch, useMeshWatch } from './mesh-watch.js'
import { href, useRoute, type Route } from './router.js'
import type { Session } from './session.js'
import { UploadQueue } from './upload-queue.js'
import { Login } from './views/login.js'
import { Buckets } from './views/buckets.js'
import { BucketSettings } from './views/bucket-settings.js'
import { Objects } from './views/objects.js'
import { Mesh } from './views/mesh.js'
import { Monitoring } from './views/monitoring.js'
import { UploadPanel } from './parts/upload-panel.js'

export function App (): preact.JSX.Element {
  const [session, setSession] = useState<Session>()
  const [error, setError] = useState<string>()
  // Whatever fails without its own message is still shown to the person, never swallowed.
  useEffect(() => {
    const on = (e: PromiseRejectionEvent): void => { setError(e.reason instanceof Error ? e.reason.message : String(e.reason)) }
    window.addEventListener('unhandledrejection', on)
    return () => { window.removeEventListener('unhandledrejection', on) }
  }, [])
  if (session === undefined) {
    return <>
      <ErrorBanner message={error} />
      <Login onLogin={s => { setError(undefined); setSession(s) }} onError={setError} />
    </>
  }
  return <Shell session={session} error={error} setError={setError} />
}

function ErrorBanner ({ message }: { message: string | undefined }): preact.JSX.Element {
  return <p id="error" class="banner" role="alert" hidden={message === undefined}>{message}</p>
}

const NAV: Array<{ view: Route['view'], label: string, icon: preact.ComponentType<{ size?: number, 'aria-hidden'?: boolean }>, to: Route }> = [
  { view: 'buckets', label: 'Buckets', icon: Database, to: { view: 'buckets' } },
  { view: 'mesh', label: 'Mesh', icon: Network, to: { view: 'mesh' } },
  { view: 'monitoring', label: 'Monitoring', icon: Activity, to: { view: 'monitoring' } },
]

function Shell ({ session, error, setError }: { session: Session, error: string | undefined, setError: (m: string | undefined) => void }): preact.JSX.Element {
  const route = useRoute()
  const [status, setStatus] = useState('')
  const ctx = useMemo<ConsoleContext>(() => ({
    session,
    watch: new MeshWatch(session),
    uploads: new UploadQueue(session.client),
    showError: setError,
    notify: setStatus,
  }), [session])
  useEffect(() => () => { ctx.watch.stop() }, [ctx])
  // A new place starts without the last place's error or news.
  useEffect(() => { setError(undefined); setStatus('') }, [route.view, route.view === 'objects' ? route.bucket : ''])
  // News fades: it said what happened, and the view shows the result.
  useEffect(() => {
    if (status === '') return
    const t = setTimeout(() => { setStatus('') }, 6000)
    return () => { clearTimeout(t) }
  }, [status])
  useMeshWatch(ctx.watch)
  const members = session.tab.membership?.list() ?? []
  const alive = members.filter(m => m.state === 'alive').length
  const active = route.view === 'bucket-settings' || route.view === 'objects' ? 'buckets' : route.view
  return <Ctx.Provider value={ctx}>
    <a class="skip" href="#content">Skip to content</a>
    <header class="top">
      <a class="brand" href={href({ view: 'buckets' })}><Boxes size={22} aria-hidden /> <span>s3mesh</span></a>
      <span class="mesh-name" title="The mesh (cluster) this tab is a member of">{session.tab.node?.node.cluster ?? ''}</span>
      <p id="connection" class="tab-state" aria-live="polite">
        <span class={`dot ${alive > 1 ? 'ok' : 'warn'}`} aria-hidden="true" />
        {`This tab is a member of the mesh (${alive} member${alive === 1 ? '' : 's'} alive).`}
      </p>
      <span class="user" title="Logged in as">{session.credentials.accessKeyId}</span>
      <button id="logout" type="button" class="secondary outline icon-text" onClick={() => { void session.logOut().finally(() => { location.hash = ''; location.reload() }) }}>
        <LogOut size={16} aria-hidden /> Log out
      </button>
    </header>
    <nav class="side" aria-label="Console">
      <ul>
        {NAV.map(n => <li key={n.view}>
          <a href={href(n.to)} aria-current={active === n.view ? 'page' : undefined}><n.icon size={18} aria-hidden /> {n.label}</a>
        </li>)}
      </ul>
    </nav>
    <main id="content" class="content">
      <ErrorBanner message={error} />
      <p class="status" role="status">{status}</p>
      {route.view === 'buckets' && <Buckets />}
      {route.view === 'bucket-settings' && <BucketSettings bucket={route.bucket} />}
      {route.view === 'objects' && <Objects bucket={route.bucket} prefix={route.prefix} open={route.open} />}
      {route.view === 'mesh' && <Mesh />}
      {route.view === 'monitoring' && <Monitoring />}
    </main>
    <UploadPanel />
  </Ctx.Provider>
}
