import type { MultiaddrConnection, Transport } from '@libp2p/interface'
import { webSockets, type WebSocketsComponents, type WebSocketsInit } from '@libp2p/websockets'
import { Uint8ArrayList } from 'uint8arraylist'
import { forwarding, preparingConnections } from './prepared-connections.js'

/**
 * @libp2p/websockets, with each send going out as one WebSocket message.
 *
 * Noise hands its connection one list per send: for every message, its
 * 2-byte length and its ciphertext, in pieces where the crypto gives them so
 * (a node's: a yamux header, a body, the 16-byte tag; a tab's pure-JS
 * crypto: ciphertext and tag in one). @libp2p/websockets (10.1.21) sends
 * each piece as a message of its own: about four per 64 KiB of data from a
 * node, two from a tab, each a frame to build and parse (and in a browser a
 * call to the network process to send, a task to receive). Joined, a send
 * is one message (up to MAX_MESSAGE_BYTES), for one copy of its bytes (a
 * WebSocket has no writev). libp2p reads a WebSocket as a stream of bytes,
 * so the peer sees the same bytes either way: stock and joined peers work
 * together.
 *
 * Only the connections the transport hands the upgrader change, and only one
 * of @libp2p/websockets' shape (a `websocket` and a `sendData`): otherwise it
 * is left as it is, and the test of this file fails, so a new release that
 * changes it is noticed rather than slower.
 */
export function joinedWebSockets (init?: WebSocketsInit): (components: WebSocketsComponents) => Transport {
  const make = preparingConnections(webSockets(init), maConn => { joinSends(maConn); resetsClose(maConn) })
  return components => guardedListeners(make(components))
}

/**
 * The largest WebSocket message a listener takes; a larger one closes the
 * connection (1009). `ws` takes up to 100 MiB by default, held whole in
 * memory before libp2p sees a byte, from anyone who connects, before Noise.
 * A joined send is at most MAX_MESSAGE_BYTES, a stock peer's a Noise message
 * (64 KiB): 2 MiB leaves room for both.
 */
export const MAX_INCOMING_MESSAGE_BYTES = 2 * 1024 * 1024

/**
 * The transport with its listeners' WebSocket server guarded against what
 * anyone may send before Noise. @libp2p/websockets (10.1) makes the server
 * with `ws`' defaults and no way to pass options, and listens for no error on
 * the sockets it takes: a frame `ws` refuses (unmasked, a bad opcode, too
 * large) emitted an 'error' nobody listened for, and five bytes to the port
 * ended the whole process. Each socket now has a listener for it (`ws` closes the
 * socket itself, and libp2p sees it closed), and messages are taken up to
 * MAX_INCOMING_MESSAGE_BYTES (`ws` reads the limit from its options at each
 * connection). A listener of another shape is left as it is (the test of
 * this file then fails).
 */
function guardedListeners (transport: Transport): Transport {
  return forwarding(transport, {
    createListener: (options: Parameters<Transport['createListener']>[0]) => {
      const listener = transport.createListener(options)
      const server = (listener as unknown as { wsServer?: WsServer }).wsServer
      const raw = (listener as unknown as { server?: RawServer }).server
      if (typeof server?.options?.maxPayload === 'number' && typeof server.handleUpgrade === 'function' && typeof raw?.on === 'function') {
        server.options.maxPayload = MAX_INCOMING_MESSAGE_BYTES
        // Sockets not yet WebSockets: closed at their deadline, and by the listener's close, which does not know them.
        const pending = new Set<object>()
        raw.on('connection', socket => {
          pending.add(socket)
          const deadline = setTimeout(() => { if (pending.delete(socket)) socket.destroy() }, UPGRADE_WITHIN_MS)
          socket.once('close', () => { clearTimeout(deadline); pending.delete(socket) })
        })
        const close = listener.close.bind(listener)
        listener.close = async () => {
          for (const socket of pending) (socket as { destroy: () => void }).destroy()
          pending.clear()
          await close()
        }
        // The listener hands each upgrade's socket to its own callback (no 'connection' event): wrapped here.
        const handleUpgrade = server.handleUpgrade.bind(server)
        server.handleUpgrade = (req, socket, head, taken) => {
          // The socket, or under TLS the one its TLS socket wraps, is a WebSocket's now: it stays.
          pending.delete(socket)
          const parent = (socket as { _parent?: unknown })._parent
          if (typeof parent === 'object' && parent !== null) pending.delete(parent)
          handleUpgrade(req, socket, head, (ws, ...rest) => {
            ws.on('error', () => {})
            taken(ws, ...rest)
          })
        }
      }
      return listener
    },
  })
}

/** What guardedListeners uses of a `ws` WebSocketServer. */
interface WsServer {
  options?: { maxPayload?: number }
  handleUpgrade?: (req: unknown, socket: object, head: unknown, taken: (ws: { on: (event: 'error', listener: () => void) => void }, ...rest: unknown[]) => void) => void
}

/** What guardedListeners uses of the listener's TCP server and its sockets. */
interface RawServer {
  on?: (event: 'connection', listener: (socket: { destroy: () => void, once: (event: 'close', listener: () => void) => void }) => void) => void
}

/**
 * How long a socket to the WebSockets port has to become a WebSocket. The
 * listener waits for a first byte, and its HTTP server for the request,
 * without a deadline: a thousand sockets that sent nothing were all still
 * held 25 s later (the TCP port lets go of one at its upgrade timeout).
 */
export const UPGRADE_WITHIN_MS = 10_000

/**
 * Makes the connection's reset close its WebSocket. @libp2p/websockets
 * resets with close(1006), a code a peer may not send: `ws` and browsers
 * throw, libp2p swallows the error and forgets the connection, and the
 * socket stays open, uncounted, for good (every Noise or yamux failure, a
 * stranger's bad frame after the handshake among them, leaked one).
 */
function resetsClose (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as { websocket?: { terminate?: () => void, close?: (code: number, reason?: string) => void }, sendReset?: unknown }
  const ws = conn.websocket
  if (typeof ws?.close !== 'function' || typeof conn.sendReset !== 'function') return
  // `ws` (a node) drops the socket at once; a browser's WebSocket has no terminate, and takes codes 1000 and 3000-4999.
  conn.sendReset = () => { if (typeof ws.terminate === 'function') ws.terminate(); else ws.close!(4000, 'reset') }
}

/**
 * The most one joined message carries. A peer's Noise takes at most 16 MiB
 * in one piece it is handed (a WebSocket message is one), and a list can
 * grow past that: after a stall Noise sends everything it queued at once.
 */
const MAX_MESSAGE_BYTES = 1024 * 1024

/** Gives the connection a send that joins each list's pieces; one not of @libp2p/websockets' shape is left as it was. */
function joinSends (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as { websocket?: { send?: unknown }, sendData?: unknown }
  if (typeof conn.websocket?.send !== 'function' || typeof conn.sendData !== 'function') return
  // Upstream's own send, handed the joined pieces: it keeps its accounting of the socket's buffer (and when to poll it).
  const sendData = (conn.sendData as (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }).bind(conn)
  conn.sendData = (data: Uint8ArrayList) => sendData(joined(data))
}

/** `data` as pieces of up to MAX_MESSAGE_BYTES, each a copy of the pieces it joins; a list of one piece (or none) as it is. */
export function joined (data: Uint8ArrayList): Uint8ArrayList {
  let pieces = 0
  for (const _ of data) if (++pieces > 1) break
  if (pieces <= 1) return data
  const out = new Uint8ArrayList()
  for (let at = 0; at < data.byteLength; at += MAX_MESSAGE_BYTES) out.append(data.subarray(at, Math.min(at + MAX_MESSAGE_BYTES, data.byteLength)))
  return out
}
