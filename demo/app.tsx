/**
 * The console's frame: the login until a session exists, then a header (this
 * tab's state in the mesh, the user, log out), the navigation and the routed
 * view.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { Activity, Boxes, Database, KeyRound, LogOut, Network } from 'lucide-preact'
import { Ctx, messageOf, useConsole, type ConsoleContext } from './context.js'
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

/** The places, each shown to whom may use it. */
const NAV: Array<{ view: Route['view'], label: string, icon: preact.ComponentType<{ size?: number, 'aria-hidden'?: boolean }>, to: Route, shown: (s: Session) => boolean }> = [
  { view: 'buckets', label: 'Buckets', icon: Database, to: { view: 'buckets' }, shown: () => true },
  { view: 'access', label: 'Access', icon: KeyRound, to: { view: 'access', tab: 'users' }, shown: s => s.can.manageAccess },
  { view: 'mesh', label: 'Mesh', icon: Network, to: { view: 'mesh' }, shown: s => s.can.serverInfo },
  { view: 'monitoring', label: 'Monitoring', icon: Activity, to: { view: 'monitoring' }, shown: s => s.can.serverInfo },
]

/** What a place needs, said instead of a view that could only fail. */
function NotAllowed ({ what, needs }: { what: string, needs: string }): preact.JSX.Element {
  return <div class="empty"><p>{`Your access does not include ${what} (it needs ${needs}).`}</p></div>
}

type AccessModule = typeof import('./views/access.js')
let accessModule: Promise<AccessModule> | undefined

/** The Access section, fetched the first time it is opened (most visits never do). */
function LazyAccess ({ route }: { route: Extract<Route, { view: 'access' }> }): preact.JSX.Element {
  const { showError } = useConsole()
  const [mod, setMod] = useState<AccessModule>()
  useEffect(() => {
    accessModule ??= import('./views/access.js')
    accessModule.then(setMod, err => { accessModule = undefined; showError(`The Access section could not be loaded: ${messageOf(err)}`) })
  }, [])
  return mod === undefined ? <p aria-busy="true">Loading…</p> : <mod.Access route={route} />
}

function Shell ({ session, error, setError }: { session: Session, error: string | undefined, setError: (m: string | undefined) => void }): preact.JSX.Element {
  const route = useRoute()
  const [status, setStatus] = useState('')
  // A tab that waits for another tab of this site to hand over the mesh node: its views follow the node once it runs
  // (or say why it could not).
  const [takeOver, setTakeOver] = useState(session.takeOver)
  useEffect(() => {
    const settled = (): void => { setTakeOver(session.takeOver) }
    settled()
    void session.tab.nodeStarted?.then(settled, settled)
  }, [session])
  const uploads = useMemo(() => new UploadQueue(session.client), [session])
  const ctx = useMemo<ConsoleContext>(() => ({
    session,
    watch: new MeshWatch(session),
    uploads,
    showError: setError,
    notify: setStatus,
    // takeOver: a new MeshWatch once this tab runs the node (the last one had no guest to follow).
  }), [session, uploads, takeOver])
  useEffect(() => () => { ctx.watch.stop() }, [ctx])
  // A new place starts without the last place's error or news.
  useEffect(() => { setError(undefined); setStatus('') }, [route.view, route.view === 'objects' ? route.bucket : route.view === 'access' ? route.tab : ''])
  // News fades: it said what happened, and the view shows the result.
  useEffect(() => {
    if (status === '') return
    const t = setTimeout(() => { setStatus('') }, 6000)
    return () => { clearTimeout(t) }
  }, [status])
  useMeshWatch(ctx.watch)
  const guest = session.tab.node?.guest
  const alive = [...guest?.peers.values() ?? []].filter(p => p.role === 'durable' && p.state === 'alive').length
  const active = route.view === 'bucket-settings' || route.view === 'objects' ? 'buckets' : route.view
  const who = session.who.kind === 'root' ? 'root' : session.who.user ?? ''
  return <Ctx.Provider value={ctx}>
    <a class="skip" href="#content">Skip to content</a>
    <header class="top">
      <a class="brand" href={href({ view: 'buckets' })}><Boxes size={22} aria-hidden /> <span>s3mesh</span></a>
      {guest !== undefined
        ? <p id="connection" class="tab-state" aria-live="polite">
          <span class={`dot ${guest.node !== undefined ? 'ok' : 'warn'}`} aria-hidden="true" />
          {guest.node !== undefined
            ? `This tab is a guest of the mesh, with your rights (${alive} node${alive === 1 ? '' : 's'} alive).`
            : `This tab is looking for a node to follow${guest.stats.refused === undefined ? '' : ` (the last one refused it: ${guest.stats.refused})`}.`}
        </p>
        : <p id="connection" class="tab-state">
          <span class="dot" aria-hidden="true" />
          {takeOver === 'waits' && session.tab.takeOverError !== undefined
            ? `Connected to the node. The tab that ran the mesh node closed; this tab is taking it over and tries again (${session.tab.takeOverError}).`
            : takeOver === 'waits'
            ? 'Connected to the node. Another tab of this site runs the mesh node for this browser; this tab takes over when that one closes.'
            : typeof takeOver === 'object'
              ? `Connected to the node. This tab could not take over the mesh node from the tab that closed: ${takeOver.failed}`
              : 'Connected to the node (this tab did not join the mesh).'}
        </p>}
      <span class="user" title={`Logged in as ${who}, with the access key ${session.credentials.accessKeyId}`}>{who}</span>
      <button id="logout" type="button" class="secondary outline icon-text" onClick={() => { void session.logOut().finally(() => { location.hash = ''; location.reload() }) }}>
        <LogOut size={16} aria-hidden /> Log out
      </button>
    </header>
    <nav class="side" aria-label="Console">
      <ul>
        {NAV.filter(n => n.shown(session)).map(n => <li key={n.view}>
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
      {route.view === 'mesh' && (session.can.serverInfo ? <Mesh /> : <NotAllowed what="the mesh's members" needs="admin:ServerInfo" />)}
      {route.view === 'monitoring' && (session.can.serverInfo ? <Monitoring /> : <NotAllowed what="the nodes' figures" needs="admin:ServerInfo" />)}
      {route.view === 'access' && (session.can.manageAccess ? <LazyAccess route={route} /> : <NotAllowed what="users, groups or policies" needs="iam:ListUsers, iam:ListGroups or iam:ListPolicies" />)}
    </main>
    <UploadPanel />
  </Ctx.Provider>
}
