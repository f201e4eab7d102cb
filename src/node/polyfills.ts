import { WebSocket as WsWebSocket } from 'ws'

// libp2p 3 and its dependencies (it-queue, mortice) call Promise.withResolvers,
// which Node has only from 22. Loaded before anything imports libp2p.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> () {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    },
  })
}

// @libp2p/websockets dials with the global WebSocket, which Node 20 has only
// behind --experimental-websocket; `ws` provides one without flags.
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
  (globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket
}
export {}
