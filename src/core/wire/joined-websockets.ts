import type { MultiaddrConnection, Transport } from '@libp2p/interface'
import { webSockets, type WebSocketsComponents, type WebSocketsInit } from '@libp2p/websockets'
import { Uint8ArrayList } from 'uint8arraylist'
import { preparingConnections } from './prepared-connections.js'

/**
 * @libp2p/websockets, with each send going out as one WebSocket message.
 *
 * Noise hands its connection one list per send: for every message, its
 * 2-byte length, its ciphertext in pieces (a yamux header, a body) and its
 * 16-byte tag. @libp2p/websockets (10.1.21) sends each piece as a message of
 * its own: about four per 64 KiB of data, each a frame to build and parse,
 * and in a browser a call to the network process to send and a task to
 * receive. Joined, a send is one message, for one copy of its bytes (a
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
  return preparingConnections(webSockets(init), joinSends)
}

/** Gives the connection a send that joins each list's pieces; one not of @libp2p/websockets' shape is left as it was. */
function joinSends (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as { websocket?: { send?: unknown }, sendData?: unknown }
  if (typeof conn.websocket?.send !== 'function' || typeof conn.sendData !== 'function') return
  // Upstream's own send, handed one piece: it keeps its accounting of the socket's buffer (and when to poll it).
  const sendData = (conn.sendData as (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }).bind(conn)
  // subarray() joins the pieces into one (a list of one piece is handed back as it is, uncopied).
  conn.sendData = (data: Uint8ArrayList) => sendData(new Uint8ArrayList(data.subarray()))
}
