import { isIP } from 'node:net'

/** A TCP port the node would listen on, and the flag that gives it (its one UDP port, WebRTC-direct's, shares the mesh port's number and clashes with none). */
export interface OwnPort {
  /** The flag, as the message names it (e.g. `--mesh-address 127.0.0.1:9100 (its WebSockets, the next port)`). */
  what: string
  host: string
  port: number
}

/** The ports a server's or relay's flags make it listen on. Port 0 is left out: the kernel picks a free one. */
export function ownPorts (o: {
  address: { host: string, port: number }
  console?: { host: string, port: number }
  mesh?: { host: string, port: number }
}): OwnPort[] {
  const at = (a: { host: string, port: number }): string => `${a.host}:${a.port}`
  const ports: OwnPort[] = [{ what: `--address ${at(o.address)}`, ...o.address }]
  if (o.console !== undefined) ports.push({ what: `--console-address ${at(o.console)}`, ...o.console })
  if (o.mesh !== undefined) {
    const { host, port } = o.mesh
    ports.push({ what: `--mesh-address ${host}:${port}`, host, port })
    // WebSockets on the next port (mesh.ts); port 0 gives it a free one too.
    if (port !== 0) ports.push({ what: `--mesh-address ${host}:${port} (its WebSockets, on the next port)`, host, port: port + 1 })
  }
  return ports.filter(p => p.port !== 0)
}

/** Whether two listen hosts take the same port: the same host; `::` (every interface, both families) and any; `0.0.0.0` and any IPv4 host (or a name). */
function overlap (a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true
  const v4 = (h: string): boolean => isIP(h) !== 6
  return (a === '0.0.0.0' && v4(b)) || (b === '0.0.0.0' && v4(a))
}

/**
 * What to tell the user if two of the node's own ports are one (checked
 * before anything listens: otherwise the second listen fails after the mesh
 * has already joined, and its message names only one of the two flags);
 * undefined when none clash.
 */
export function portClash (ports: OwnPort[]): string | undefined {
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [a, b] = [ports[i]!, ports[j]!]
      if (a.port === b.port && overlap(a.host, b.host)) {
        return `${a.what} and ${b.what} would both listen on port ${a.port}: give one of them another port.`
      }
    }
  }
  return undefined
}
