/** Percentile of a list of numbers (nearest rank). */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function round (n: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * A figure measured in repeated runs: the median and the range, with every
 * run's reading. This is how such figures are reported, never the best run.
 */
export interface Spread { median: number, min: number, max: number, runs: number[] }

export function spread (values: number[], digits = 2): Spread {
  return {
    median: round(median(values), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    runs: values.map(v => round(v, digits)),
  }
}

/** "4.4 (3.8-5.5)": a spread as the README and summaries print it. */
export function showSpread (s: Spread, unit = ''): string {
  return s.min === s.max ? `${s.median}${unit}` : `${s.median}${unit} (${s.min}-${s.max})`
}
