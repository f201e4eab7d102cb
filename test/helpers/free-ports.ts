import { createServer, type AddressInfo, type Server } from 'node:net'

async function bind (port: number): Promise<Server | undefined> {
  return await new Promise(resolve => {
    const s = createServer()
    s.once('error', () => { resolve(undefined) })
    s.listen(port, '127.0.0.1', () => { resolve(s) })
  })
}

/**
 * Free TCP ports on 127.0.0.1 (bound, read, released), for a node that must
 * come back where it was; the second one's next port is free too (the mesh's
 * WebSocket listener takes the mesh port + 1).
 */
export async function freePorts (): Promise<[number, number, number]> {
  for (;;) {
    const held = [await bind(0), await bind(0), await bind(0)] as Server[]
    const ports = held.map(s => (s.address() as AddressInfo).port) as [number, number, number]
    const next = await bind(ports[1] + 1)
    for (const s of [...held, next]) if (s !== undefined) await new Promise(resolve => s.close(resolve))
    if (next !== undefined) return ports
  }
}
