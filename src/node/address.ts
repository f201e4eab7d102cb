import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { CliError } from './cli-error.js'

/**
 * This machine's addresses, for a server listening on every interface: never
 * 0.0.0.0, which nobody can connect to. Loopback last; IPv6 only with `v6`.
 */
export function interfaceHosts (v6 = false): string[] {
  const all = Object.values(networkInterfaces()).flatMap(list => list ?? [])
    .filter(i => i.family === 'IPv4' || (v6 && i.family === 'IPv6' && !i.address.startsWith('fe80')))
  const sorted = [...all.filter(i => !i.internal), ...all.filter(i => i.internal)].map(i => i.address)
  return sorted.length > 0 ? sorted : ['127.0.0.1']
}

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

/**
 * Checks a --announce multiaddr: one others can dial (TCP, WebSockets or
 * secure WebSockets over an IP or DNS name), never an unspecified address.
 */
export function parseAnnounce (value: string): string {
  const v = value.trim()
  const bad = (): CliError => new CliError(`--announce "${value}" is not a multiaddr others can dial: use /ip4/<address>/tcp/<port>, /dns4/<name>/tcp/<port>/tls/ws, /ip4/<address>/udp/<port>/webrtc-direct and the like.`, 2)
  const m = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/]+)\/(?:tcp\/(\d{1,5})(\/tls(\/sni\/[^/]+)?\/ws|\/wss|\/ws)?|udp\/(\d{1,5})\/webrtc-direct)(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.exec(v)
  if (m === null) throw bad()
  const [, kind, host, tcpPort, , , udpPort] = m
  const port = Number(tcpPort ?? udpPort)
  if (!(port >= 1 && port <= 65535)) throw bad()
  if (kind === 'ip4' && isIP(host!) !== 4) throw bad()
  if (kind === 'ip6' && isIP(host!) !== 6) throw bad()
  if (udpPort !== undefined && kind !== 'ip4' && kind !== 'ip6') throw new CliError(`--announce "${value}": a WebRTC-direct address needs an IP address (browsers do not resolve names for it).`, 2)
  if ((kind === 'ip4' && host === '0.0.0.0') || (kind === 'ip6' && /^[0:]+$/.test(host!))) throw new CliError(`--announce "${value}" names no machine (0.0.0.0): give the address others reach this node at.`, 2)
  // libp2p adds /p2p/<id> (and a WebRTC-direct address's /certhash/) itself.
  return v.replace(/\/p2p\/[^/]+$/, '')
}

/** Checks --public-url: an http(s) URL with no path, query or credentials; returned without a trailing slash. */
export function parsePublicUrl (value: string): string {
  let u: URL
  try {
    u = new URL(value)
  } catch {
    throw new CliError(`--public-url "${value}" is not a URL: use https://s3.example.com or http://203.0.113.5:9000.`, 2)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`--public-url "${value}" must start with http:// or https://.`, 2)
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '' || (u.pathname !== '/' && u.pathname !== '')) {
    throw new CliError(`--public-url "${value}" must be a bare origin such as https://s3.example.com (no path, query or user).`, 2)
  }
  return u.origin
}
