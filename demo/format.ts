/** How sizes, times and ids read in the console. */

export function bytes (n: number): string {
  if (n < 1024) return n === 1 ? '1 byte' : `${n} bytes`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { n /= 1024; i++ } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]!}`
}

export function rate (bytesPerSecond: number): string {
  return `${bytes(Math.round(bytesPerSecond))}/s`
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

/** "3 minutes ago", or a date when older than a week. */
export function ago (ms: number, now = Date.now()): string {
  if (!Number.isFinite(ms)) return ''
  const s = Math.round((ms - now) / 1000)
  if (Math.abs(s) < 60) return relative.format(s, 'second')
  if (Math.abs(s) < 3600) return relative.format(Math.round(s / 60), 'minute')
  if (Math.abs(s) < 86400) return relative.format(Math.round(s / 3600), 'hour')
  if (Math.abs(s) < 7 * 86400) return relative.format(Math.round(s / 86400), 'day')
  return new Date(ms).toLocaleDateString()
}

/** A moment to the second: the time for one today, else the date and time. */
export function moment (ms: number, now = Date.now()): string {
  const d = new Date(ms)
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return d.toDateString() === new Date(now).toDateString() ? time : `${d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })}, ${time}`
}

/** A member's short name: the end of its peer id, as in `s3mesh members`. */
export const shortId = (id: string): string => id.slice(-8)

/** How long something has been up: "42 s", "5 min", "3 h 10 min", "2 d 4 h". */
export function uptime (ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}
