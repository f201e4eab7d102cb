import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY, type SimulationLinkDatum, type SimulationNodeDatum } from 'd3-force'
import { shortId } from '../format.js'
import type { TransportKind } from '../../src/core/wire/transport-kind.js'

export interface GraphMember { id: string, role: string, state: string, self: boolean }
export interface GraphEdge { a: string, b: string, kind: TransportKind }

interface Node extends SimulationNodeDatum { id: string }
type Link = SimulationLinkDatum<Node> & { kind: TransportKind }

const W = 640
const H = 360

/**
 * The members as a graph laid out by a force simulation (d3-force): one
 * labelled node per member, coloured by state, this tab ringed; an edge per
 * live connection, drawn by its transport; edges and nodes flash when an
 * object moves between them (`pulse`).
 */
export function MeshGraph ({ members, edges, pulse }: { members: GraphMember[], edges: GraphEdge[], pulse: { ids: string[], at: number } | undefined }): preact.JSX.Element {
  // Positions survive updates: a member keeps its place when another joins.
  const nodes = useRef(new Map<string, Node>())
  const [, setFrame] = useState(0)
  const key = members.map(m => m.id).join() + '|' + edges.map(e => `${e.a}-${e.b}`).join()
  const layout = useMemo(() => {
    const known = nodes.current
    const list = members.map(m => known.get(m.id) ?? { id: m.id })
    nodes.current = new Map(list.map(n => [n.id, n]))
    const links: Link[] = edges.filter(e => nodes.current.has(e.a) && nodes.current.has(e.b)).map(e => ({ source: e.a, target: e.b, kind: e.kind }))
    const sim = forceSimulation<Node>(list)
      .force('link', forceLink<Node, Link>(links).id(n => n.id).distance(110))
      .force('charge', forceManyBody().strength(-400))
      .force('center', forceCenter(W / 2, H / 2))
      .force('collide', forceCollide(44))
      // A member with no connection drawn (a tab that went away) stays near the others instead of drifting off.
      .force('x', forceX<Node>(W / 2).strength(0.06))
      .force('y', forceY<Node>(H / 2).strength(0.1))
      .stop()
    // Settled before it is drawn: no jitter on every member event.
    for (let i = 0; i < 200; i++) sim.tick()
    for (const n of list) { n.x = Math.max(50, Math.min(W - 50, n.x ?? W / 2)); n.y = Math.max(30, Math.min(H - 40, n.y ?? H / 2)) }
    return links
  }, [key])
  useEffect(() => {
    if (pulse === undefined) return
    const t = setTimeout(() => { setFrame(f => f + 1) }, 1600)
    return () => { clearTimeout(t) }
  }, [pulse?.at])
  const pulsing = pulse !== undefined && Date.now() - pulse.at < 1500 ? new Set(pulse.ids) : new Set<string>()
  const pos = (id: string): Node => nodes.current.get(id) ?? { id, x: W / 2, y: H / 2 }
  return <svg id="mesh-graph" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`The mesh: ${members.length} members, ${edges.length} connections`}>
    <g class="edges">
      {layout.map(l => {
        const a = l.source as Node
        const b = l.target as Node
        return <line key={`${a.id}-${b.id}`} class={`edge ${l.kind}${pulsing.has(a.id) && pulsing.has(b.id) ? ' pulse' : ''}`} x1={a.x} y1={a.y} x2={b.x} y2={b.y}><title>{`${shortId(a.id)} – ${shortId(b.id)}: ${l.kind}`}</title></line>
      })}
    </g>
    <g class="members">
      {members.map(m => {
        const n = pos(m.id)
        return <g key={m.id} class={`member ${m.state}${m.self ? ' self' : ''}${pulsing.has(m.id) ? ' pulse' : ''}`} transform={`translate(${n.x ?? 0},${n.y ?? 0})`} data-id={m.id}>
          <circle r={m.role === 'durable' ? 18 : 13} />
          <text y={m.role === 'durable' ? 34 : 29} class="label">{`${shortId(m.id)}${m.self ? ' (this tab)' : ''}`}</text>
          <text y={m.role === 'durable' ? 47 : 42} class="sublabel">{`${m.role} · ${m.state}`}</text>
          <title>{`${m.id} (${m.role}, ${m.state})`}</title>
        </g>
      })}
    </g>
  </svg>
}
