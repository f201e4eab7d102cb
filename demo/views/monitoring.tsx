import { useState } from 'preact/hooks'
import { useConsole } from '../context.js'
import { bytes, rate, shortId } from '../format.js'
import { useMeshWatch } from '../mesh-watch.js'
import { SAMPLE_MS, useNodeMetrics } from '../node-metrics.js'
import { Chart } from '../parts/chart.js'

const perSecond = (v: number): string => v >= 100 ? `${Math.round(v)}/s` : `${v.toFixed(v >= 10 ? 1 : 2)}/s`
const ms = (v: number): string => v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`

/** A node's S3 traffic over the last minutes, from its own metrics: the node serving the console, or any other Node node of the mesh. */
export function Monitoring (): preact.JSX.Element {
  const { session, watch } = useConsole()
  useMeshWatch(watch)
  const [member, setMember] = useState<string>()
  const m = useNodeMetrics(session, member)
  // The Node nodes alive, as the node this tab follows tells them.
  const nodes = [...session.tab.node?.guest.peers.values() ?? []].filter(x => x.state === 'alive' && x.role === 'durable')
  const times = m.points.map(p => p.at)
  const col = <K extends keyof typeof m.points[number]>(k: K): number[] => m.points.map(p => p[k] as number)
  return <section aria-labelledby="monitoring-title" data-member={m.member ?? ''}>
    <div class="view-head"><h1 id="monitoring-title">Monitoring</h1></div>
    <div class="toolbar">
      <label>Member{' '}
        <select value={member ?? ''} onChange={e => { setMember(e.currentTarget.value === '' ? undefined : e.currentTarget.value) }}>
          <option value="">The node serving this console</option>
          {nodes.map(n => <option key={n.id} value={n.id}>{`${shortId(n.id)} (durable)`}</option>)}
        </select>
      </label>
    </div>
    <p class="muted">Its S3 traffic, sampled every {SAMPLE_MS / 1000} s from its own metrics (each node also serves them at <code>/metrics</code> for Prometheus; another node's come over the mesh); the last five minutes.</p>
    {m.error !== undefined && <p class="banner" role="alert">The node's metrics cannot be read: {m.error}</p>}
    <div class="stats">
      <Stat label="Objects in the buckets it keeps" value={m.gauges.s3mesh_catalog_objects?.toLocaleString() ?? '–'} />
      <Stat label="Data (one copy each)" value={m.gauges.s3mesh_catalog_bytes === undefined ? '–' : bytes(m.gauges.s3mesh_catalog_bytes)} />
      <Stat label="Objects below their copies" value={m.gauges.s3mesh_under_replicated_objects?.toLocaleString() ?? '–'} />
      <Stat label="Repairs in progress" value={m.gauges.s3mesh_repair_queue?.toLocaleString() ?? '–'} />
    </div>
    <div class="charts">
      <Chart title="Requests" times={times} unit={perSecond} series={[
        { label: 'all', values: col('requests'), color: '#2f6feb' },
        { label: '4xx', values: col('clientErrors'), color: '#bf8700' },
        { label: '5xx', values: col('serverErrors'), color: '#cf222e' },
      ]} />
      <Chart title="Latency" times={times} unit={ms} series={[
        { label: 'p50', values: col('p50'), color: '#1a7f37' },
        { label: 'p99', values: col('p99'), color: '#8250df' },
      ]} />
      <Chart title="S3 bytes" times={times} unit={rate} series={[
        { label: 'in', values: col('bytesIn'), color: '#0969da' },
        { label: 'out', values: col('bytesOut'), color: '#bc4c00' },
      ]} />
      <Chart title="Bytes between members" times={times} unit={rate} series={[
        { label: 'received', values: col('transferIn'), color: '#0969da' },
        { label: 'sent', values: col('transferOut'), color: '#bc4c00' },
      ]} />
    </div>
  </section>
}

function Stat ({ label, value }: { label: string, value: string }): preact.JSX.Element {
  return <article class="stat"><p class="stat-value">{value}</p><p class="muted">{label}</p></article>
}
