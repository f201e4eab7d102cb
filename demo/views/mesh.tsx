import { useEffect, useState } from 'preact/hooks'
import { connectionKinds, type TransportKind } from '../../src/core/wire/transport-kind.js'
import { tabHoldings } from '../catalog-view.js'
import { useConsole } from '../context.js'
import { bytes, shortId, uptime } from '../format.js'
import { useMeshWatch, type FeedItem } from '../mesh-watch.js'
import { useNodeMetrics } from '../node-metrics.js'
import { MeshGraph, type GraphEdge } from '../parts/mesh-graph.js'

/** How often the Node nodes are asked for their connections, ms. */
const TOPOLOGY_MS = 5000
/** Node nodes asked for their connections, at most (each is a request through the console's node). */
const MAX_ASKED = 20

/** Adds a connection unless it is there already, either way round (both ends may report it). */
function addEdge (edges: GraphEdge[], e: GraphEdge): void {
  if (!edges.some(x => (x.a === e.a && x.b === e.b) || (x.a === e.b && x.b === e.a))) edges.push(e)
}

/**
 * A member as the table and graph show it: from the node's members API (the
 * nodes, with what they tell of themselves, and the tabs that follow it), or
 * from this tab's peers for what that lacks. `self` is this tab, `serving` the
 * node serving the console.
 */
interface MemberRow { id: string, state: string, self: boolean, serving: boolean, rttMs?: number, role?: string, free?: number, started?: number, version?: string, held?: { objects: number, bytes: number } }
interface MemberView { id: string, state: string, self?: true, role?: string, rttMs?: number, meta?: { version?: string, started?: number, free?: number, heldObjects?: number, heldBytes?: number } }

/** The members: a live graph of who is connected to whom, a table, replication health and the announcement feed. */
export function Mesh (): preact.JSX.Element {
  const { session, watch } = useConsole()
  useMeshWatch(watch)
  const [nodeEdges, setNodeEdges] = useState<GraphEdge[]>([])
  /** The node's members and the tabs that follow it, with their version, free disk and round-trip time. */
  const [nodeMembers, setNodeMembers] = useState<MemberView[]>([])
  const [pulse, setPulse] = useState<{ ids: string[], at: number }>()
  const metrics = useNodeMetrics(session)
  // The feed below shows writes to every bucket this person may list: the tab follows them while the view is open.
  const buckets = session.tab.node?.guest.catalog.listBuckets().map(e => e.bucket).join('/') ?? ''
  useEffect(() => session.tab.node?.guest.watch(buckets === '' ? [] : buckets.split('/')), [session, buckets, session.tab.node])
  // Each Node node reports its own connections (the one serving the console directly, the others through it, over
  // the mesh); the tab knows its own.
  useEffect(() => {
    const controller = new AbortController()
    const connectionsOf = async (path: string): Promise<Record<string, TransportKind[]>> => {
      const res = await session.api(path, { signal: controller.signal }).catch(() => undefined)
      if (res?.ok !== true) return {}
      // The view may go away (aborting the body) while it is read: nothing to show then.
      const body = await res.json().catch(() => undefined) as { connections?: Record<string, TransportKind[]> } | undefined
      return body?.connections ?? {}
    }
    const load = async (): Promise<void> => {
      const res = await session.api('/members', { signal: controller.signal }).catch(() => undefined)
      if (res?.ok !== true) return
      const body = await res.json().catch(() => undefined) as { members: MemberView[] } | undefined
      const self = body?.members.find(m => m.self === true)?.id
      if (body === undefined || self === undefined) return
      setNodeMembers(body.members)
      const others = body.members.filter(m => m.self !== true && m.role === 'durable' && m.state === 'alive').slice(0, MAX_ASKED).map(m => m.id)
      const reports = await Promise.all([
        connectionsOf('/connections').then(c => [self, c] as const),
        ...others.map(async id => await connectionsOf(`/connections?member=${encodeURIComponent(id)}`).then(c => [id, c] as const)),
      ])
      if (controller.signal.aborted) return
      const edges: GraphEdge[] = []
      for (const [from, peers] of reports) {
        for (const [to, kinds] of Object.entries(peers)) {
          if (kinds.length > 0) addEdge(edges, { a: from, b: to, kind: kinds[0]! })
        }
      }
      setNodeEdges(edges)
    }
    void load()
    const timer = setInterval(() => { void load() }, TOPOLOGY_MS)
    const off = watch.onCatalog(item => { if (item.holders.length > 0) setPulse({ ids: item.holders, at: Date.now() }) })
    return () => { clearInterval(timer); controller.abort(); off() }
  }, [session, watch])

  const libp2p = session.tab.node?.libp2p
  const selfId = libp2p?.peerId.toString() ?? ''
  const members: MemberRow[] = nodeMembers.map(m => ({ id: m.id, state: m.state, self: m.id === selfId, serving: m.self === true, rttMs: m.rttMs, role: m.role, free: m.meta?.free, started: m.meta?.started, version: m.meta?.version, ...(m.meta?.heldObjects === undefined ? {} : { held: { objects: m.meta.heldObjects, bytes: m.meta.heldBytes ?? 0 } }) }))
  // What the node's answer lacks (or before it comes): this tab, and the peers its followed node tells it of.
  const guest = session.tab.node?.guest
  if (guest !== undefined) {
    for (const p of [{ id: guest.self, role: 'guest', state: 'alive' }, ...guest.peers.values()]) {
      if (!members.some(m => m.id === p.id)) members.push({ id: p.id, state: p.state, self: p.id === guest.self, serving: false, role: p.role })
    }
  }
  const tabKinds = connectionKinds(libp2p?.getConnections() ?? [])
  const edges: GraphEdge[] = [...tabKinds].map(([peer, kinds]) => ({ a: selfId, b: peer, kind: kinds[0]! }))
  for (const e of nodeEdges) addEdge(edges, e)
  const mine = tabHoldings(session)
  const relays = [...tabKinds.values()].filter(k => k.includes('websockets')).length
  const webrtc = [...tabKinds.values()].filter(k => k.includes('webrtc')).length

  return <section aria-labelledby="mesh-title">
    <div class="view-head"><h1 id="mesh-title">Mesh</h1></div>
    <div class="stats">
      <article class="stat"><p class="stat-value">{members.filter(m => m.role === 'durable' && m.state === 'alive').length}</p><p class="muted">nodes alive</p></article>
      <article class="stat"><p class="stat-value">{metrics.gauges.s3mesh_under_replicated_objects?.toLocaleString() ?? '–'}</p><p class="muted">objects below their copies (the node's count)</p></article>
      <article class="stat"><p class="stat-value">{metrics.gauges.s3mesh_repair_queue?.toLocaleString() ?? '–'}</p><p class="muted">repairs in progress on the node</p></article>
    </div>
    <figure class="graph-box">
      <MeshGraph members={members.map(m => ({ id: m.id, role: m.role ?? '?', state: m.state, self: m.self }))} edges={edges} pulse={pulse} />
      <figcaption class="legend">
        <span><i class="swatch alive" /> alive</span><span><i class="swatch suspect" /> suspect</span><span><i class="swatch failed" /> failed or left</span>
        <span><i class="line websockets" /> WebSockets</span><span><i class="line webrtc" /> WebRTC</span><span><i class="line relay" /> relay</span><span><i class="line tcp" /> TCP</span>
      </figcaption>
    </figure>
    <p id="tab-connections">{session.member ? `This tab: ${relays} Node node${relays === 1 ? '' : 's'} over WebSockets, ${webrtc} tab${webrtc === 1 ? '' : 's'} over WebRTC. Objects and bytes held: as each node counts its own copies, and this tab's.` : session.takeOver === 'waits' ? 'Another tab of this site runs the mesh node for this browser (this tab takes over when it closes): the members are as the node serving this console sees them.' : 'This tab did not join the mesh: the members are as the node serving this console sees them.'}</p>
    <div class="table-wrap"><table class="striped" aria-label="Members">
      <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">State</th><th scope="col" class="num">Objects held</th><th scope="col" class="num">Bytes held</th><th scope="col" class="num">Disk free</th><th scope="col" class="num">RTT</th><th scope="col">Up</th><th scope="col">Version</th></tr></thead>
      <tbody id="member-rows">{members.map(m => {
        const h = m.self ? mine : m.held
        return <tr key={m.id} class={m.self ? 'self' : undefined}>
          <th scope="row" title={m.id}>{`${shortId(m.id)}${m.self ? ' (this tab)' : m.serving ? ' (serving this console)' : ''}`}</th>
          <td>{m.role ?? '?'}</td>
          <td><span class={`badge state-${m.state}`}>{m.state}</span></td>
          <td class="num">{h === undefined ? '' : h.objects.toLocaleString()}</td>
          <td class="num">{h === undefined ? '' : bytes(h.bytes)}</td>
          <td class="num">{m.free === undefined ? '' : bytes(m.free)}</td>
          <td class="num">{m.rttMs === undefined ? '' : `${m.rttMs.toFixed(1)} ms`}</td>
          <td>{m.started === undefined || m.state !== 'alive' ? '' : <time dateTime={new Date(m.started).toISOString()} title={`since ${new Date(m.started).toLocaleString()}`}>{uptime(Date.now() - m.started)}</time>}</td>
          <td>{m.version ?? ''}</td>
        </tr>
      })}</tbody>
    </table></div>
    <Feed items={watch.feed} />
  </section>
}

/** Recent announcements this tab heard, newest first, filtered by kind and by bucket or key. */
function Feed ({ items }: { items: FeedItem[] }): preact.JSX.Element {
  const [kind, setKind] = useState('all')
  const [text, setText] = useState('')
  const shown = items.filter(i => (kind === 'all' || i.kind === kind || (kind === 'bucket' && i.kind === 'bucket-delete')) && `${i.bucket}/${i.key ?? ''}`.includes(text))
  return <section aria-labelledby="feed-title">
    <h2 id="feed-title">Recent announcements</h2>
    <div class="toolbar">
      <label>Kind{' '}
        <select value={kind} onChange={e => { setKind(e.currentTarget.value) }}>
          <option value="all">All</option><option value="put">Writes</option><option value="delete">Deletes</option><option value="bucket">Buckets</option>
        </select>
      </label>
      <label>Bucket or key contains <input type="search" value={text} onInput={e => { setText(e.currentTarget.value) }} /></label>
    </div>
    <ol id="feed" aria-label="Recent announcements" tabindex={0}>
      {shown.slice(0, 100).map((i, n) => <li key={`${i.at}-${n}`}>
        <time>{new Date(i.at).toLocaleTimeString()}</time>{' '}
        <span class={`badge kind-${i.kind}`}>{i.kind === 'bucket-delete' ? 'deleted' : i.kind === 'delete' ? 'deleted' : i.kind === 'bucket' ? 'bucket' : 'put'}</span>{' '}
        <span class="mono">{`${i.bucket}/${i.key ?? ''}`}</span>
        {i.kind === 'put' ? <span class="muted">{` (${i.holders.length} holder${i.holders.length === 1 ? '' : 's'})`}</span> : null}
      </li>)}
      {shown.length === 0 && <li class="muted">Nothing yet: writes anywhere in the mesh show here as they are announced.</li>}
    </ol>
  </section>
}
