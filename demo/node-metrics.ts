/**
 * The node's own metrics (GET /_s3mesh/v1/metrics: prom-client's JSON),
 * sampled every few seconds and turned into rates over the last minutes:
 * requests and errors a second, latency percentiles, bytes in and out.
 */
import { useEffect, useState } from 'preact/hooks'
import type { Session } from './session.js'

interface MetricValue { value: number, labels: Record<string, string | number>, metricName?: string }
interface Metric { name: string, type: string, values: MetricValue[] }

/** What the charts count: totals in a sample, per second in a point. */
const COUNTED = ['requests', 'clientErrors', 'serverErrors', 'bytesIn', 'bytesOut', 'transferIn', 'transferOut'] as const
type Counted = Record<typeof COUNTED[number], number>

/** One sample of the counters the charts need, summed over labels. */
interface Counters extends Counted {
  at: number
  /** Cumulative latency histogram: upper bound (s) -> count. */
  buckets: Map<number, number>
  gauges: Record<string, number>
}

/** The rates between two samples. */
export interface Point extends Counted {
  at: number
  /** Latency percentiles over the interval, ms (NaN with no requests). */
  p50: number
  p99: number
}

/** Requests of the s3mesh API itself (the console's own polling) are left out of the charts. */
const IGNORED_OPERATIONS = new Set(['MeshApi'])
export const SAMPLE_MS = 2000
/** Points kept: five minutes. */
const KEEP = 150

function read (metrics: Metric[], at: number): Counters {
  const c: Counters = { at, requests: 0, clientErrors: 0, serverErrors: 0, bytesIn: 0, bytesOut: 0, transferIn: 0, transferOut: 0, buckets: new Map(), gauges: {} }
  for (const m of metrics) {
    if (m.name === 's3mesh_http_requests_total') {
      for (const v of m.values) {
        if (IGNORED_OPERATIONS.has(String(v.labels.operation))) continue
        const status = Number(v.labels.status)
        c.requests += v.value
        if (status >= 500) c.serverErrors += v.value
        else if (status >= 400) c.clientErrors += v.value
      }
    } else if (m.name === 's3mesh_http_request_duration_seconds') {
      for (const v of m.values) {
        if (v.metricName?.endsWith('_bucket') !== true || IGNORED_OPERATIONS.has(String(v.labels.operation))) continue
        const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
        c.buckets.set(le, (c.buckets.get(le) ?? 0) + v.value)
      }
    } else if (m.name === 's3mesh_http_received_bytes_total') c.bytesIn = m.values[0]?.value ?? 0
    else if (m.name === 's3mesh_http_sent_bytes_total') c.bytesOut = m.values[0]?.value ?? 0
    else if (m.name === 's3mesh_transfer_received_bytes_total') c.transferIn = m.values[0]?.value ?? 0
    else if (m.name === 's3mesh_transfer_sent_bytes_total') c.transferOut = m.values[0]?.value ?? 0
    else if (m.type === 'gauge' && m.values.length === 1) c.gauges[m.name] = m.values[0]!.value
  }
  return c
}

/** The latency under which a fraction `q` of the interval's requests finished, ms (linear within a bucket). */
function percentile (before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0)
  if (total <= 0) return NaN
  let lower = 0
  let below = 0
  for (const le of bounds) {
    const count = (after.get(le) ?? 0) - (before.get(le) ?? 0)
    if (count >= q * total) {
      if (le === Infinity) return lower * 1000
      const within = count - below
      return (lower + (le - lower) * (within === 0 ? 1 : (q * total - below) / within)) * 1000
    }
    lower = le
    below = count
  }
  return NaN
}

function pointBetween (a: Counters, b: Counters): Point {
  const s = Math.max(0.001, (b.at - a.at) / 1000)
  const rates = Object.fromEntries(COUNTED.map(k => [k, (b[k] - a[k]) / s])) as Counted
  return { ...rates, at: b.at, p50: percentile(a.buckets, b.buckets, 0.5), p99: percentile(a.buckets, b.buckets, 0.99) }
}

export interface NodeMetrics {
  points: Point[]
  gauges: Record<string, number>
  error?: string
  /** Whose figures these are (undefined: the node serving the console). */
  member?: string
}

/** Samples a member's metrics (the node serving the console when `member` is undefined) while the calling view is shown. */
export function useNodeMetrics (session: Session, member?: string): NodeMetrics {
  const [state, setState] = useState<NodeMetrics>({ points: [], gauges: {}, ...(member === undefined ? {} : { member }) })
  useEffect(() => {
    let last: Counters | undefined
    const points: Point[] = []
    const controller = new AbortController()
    const sample = async (): Promise<void> => {
      try {
        const res = await session.api(member === undefined ? '/metrics' : `/metrics?member=${encodeURIComponent(member)}`, { signal: controller.signal })
        if (!res.ok) throw new Error(new DOMParser().parseFromString(await res.text(), 'application/xml').querySelector('Message')?.textContent ?? `the node answered ${res.status}`)
        const body = await res.json() as { at: number, metrics: Metric[] }
        const now = read(body.metrics, body.at)
        // A counter that went down means the node restarted: start again from this sample, no negative rate.
        const restarted = last !== undefined && COUNTED.some(k => now[k] < last![k])
        if (last !== undefined && !restarted) points.push(pointBetween(last, now))
        if (points.length > KEEP) points.shift()
        last = now
        setState({ points: [...points], gauges: now.gauges, ...(member === undefined ? {} : { member }) })
      } catch (err) {
        if (!controller.signal.aborted) setState(s => ({ ...s, error: err instanceof Error ? err.message : String(err) }))
      }
    }
    setState({ points: [], gauges: {}, ...(member === undefined ? {} : { member }) })
    void sample()
    const timer = setInterval(() => { void sample() }, SAMPLE_MS)
    return () => { clearInterval(timer); controller.abort() }
  }, [session, member])
  return state
}
