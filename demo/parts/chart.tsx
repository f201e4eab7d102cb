import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

export interface Series { label: string, values: number[], color: string }

/** A time chart (uPlot): x in ms since the epoch, one line per series, sized to its box. */
export function Chart ({ title, times, series, unit }: { title: string, times: number[], series: Series[], unit: (v: number) => string }): preact.JSX.Element {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)
  const data = (): uPlot.AlignedData => [times.map(t => t / 1000), ...series.map(s => s.values.map(v => Number.isFinite(v) ? v : null))] as uPlot.AlignedData
  useEffect(() => {
    const el = box.current!
    const make = (): uPlot => new uPlot({
      width: Math.max(200, el.clientWidth), height: 180,
      legend: { show: true, live: false },
      // From zero, and at least to 1, so that an idle series is a flat line at the bottom, not a line mid-chart.
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      cursor: { show: true },
      series: [{}, ...series.map(s => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => v === null ? '–' : unit(v) }))],
      axes: [
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.2)' } },
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.2)' }, size: 70, values: (_u, vals) => vals.map(v => unit(v)) },
      ],
    }, data(), el)
    plot.current = make()
    const resize = new ResizeObserver(() => { plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 180 }) })
    resize.observe(el)
    return () => { resize.disconnect(); plot.current?.destroy() }
  }, [series.length])
  useEffect(() => { plot.current?.setData(data()) }, [times, series])
  const latest = series.map(s => `${s.label} ${s.values.length === 0 || !Number.isFinite(s.values.at(-1)!) ? '–' : unit(s.values.at(-1)!)}`).join(', ')
  return <figure class="chart" data-points={times.length}>
    <figcaption>{title}</figcaption>
    <div ref={box} role="img" aria-label={`${title}: ${latest}`} />
  </figure>
}
