import { CliError } from './cli-error.js'

/**
 * Parses `host:port`, `:port` (every interface, as MinIO reads it), `port`
 * alone (127.0.0.1) or `[v6]:port`.
 */
export function parseAddress (value: string, flag = '--address'): { host: string, port: number } {
  const v = value.trim()
  const bad = (): CliError => new CliError(`${flag} "${value}" is not an address: use host:port, such as 127.0.0.1:9000, or :9000 for every interface.`, 2)
  let host: string
  let portText: string
  if (/^\d+$/.test(v)) {
    host = '127.0.0.1'
    portText = v
  } else if (v.startsWith('[')) {
    const end = v.indexOf(']:')
    if (end < 0) throw bad()
    host = v.slice(1, end)
    portText = v.slice(end + 2)
  } else {
    const colon = v.lastIndexOf(':')
    if (colon < 0 || v.indexOf(':') !== colon) throw bad()
    host = v.slice(0, colon) === '' ? '0.0.0.0' : v.slice(0, colon)
    portText = v.slice(colon + 1)
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
  if (!(port >= 0 && port <= 65535)) throw bad()
  return { host, port }
}
