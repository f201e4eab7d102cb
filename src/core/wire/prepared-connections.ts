import type { InboundConnectionUpgradeEvents, MultiaddrConnection, OutboundConnectionUpgradeEvents, Transport, Upgrader, UpgraderOptions } from '@libp2p/interface'

/**
 * A libp2p transport whose connections are `prepare`d before the upgrader
 * (Noise, then the muxer) takes them: how members change the way a transport
 * writes (node/corked-tcp.ts, joined-websockets.ts) without forking it. The
 * transport is otherwise the one `make` returns, every property and method
 * its own.
 */
export function preparingConnections<C> (make: (components: C) => Transport, prepare: (maConn: MultiaddrConnection) => void): (components: C) => Transport {
  return components => {
    const transport = make(components)
    const preparing = (upgrader: Upgrader): Upgrader => forwarding(upgrader, {
      upgradeInbound: async (maConn: MultiaddrConnection, options: UpgraderOptions<InboundConnectionUpgradeEvents>) => { prepare(maConn); await upgrader.upgradeInbound(maConn, options) },
      upgradeOutbound: async (maConn: MultiaddrConnection, options: UpgraderOptions<OutboundConnectionUpgradeEvents>) => { prepare(maConn); return await upgrader.upgradeOutbound(maConn, options) },
    })
    return forwarding(transport, {
      dial: async (ma: Parameters<Transport['dial']>[0], options: Parameters<Transport['dial']>[1]) => await transport.dial(ma, { ...options, upgrader: preparing(options.upgrader) }),
      createListener: (options: Parameters<Transport['createListener']>[0]) => transport.createListener({ ...options, upgrader: preparing(options.upgrader) }),
    })
  }
}

/** `target` with some of its methods replaced; every other property (symbols included) read from it, methods bound to it. */
export function forwarding<T extends object> (target: T, replaced: Record<string, unknown>): T {
  return new Proxy(target, {
    get: (t, prop) => {
      if (typeof prop === 'string' && Object.hasOwn(replaced, prop)) return replaced[prop]
      const value: unknown = Reflect.get(t, prop, t)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value
    },
  })
}
