import { Socket } from 'node:net'
import type { MultiaddrConnection, Transport } from '@libp2p/interface'
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp'
import type { Uint8ArrayList } from 'uint8arraylist'
import { preparingConnections } from '../core/wire/prepared-connections.js'

/**
 * @libp2p/tcp, with each send written to the socket in one system call.
 *
 * Noise hands its connection one list per send: for every message, its
 * 2-byte length, its ciphertext in pieces (a yamux header, a body) and its
 * 16-byte tag. @libp2p/tcp (11.0.28) calls socket.write once per piece, and
 * an idle socket writes each at once: about three writes per 64 KiB message,
 * 64 per MiB sent, each a TCP segment of its own (the connection sets
 * noDelay) that the reader wakes for. Corked around the pieces, the socket
 * writes them with one writev, about 6 per MiB. A member serving 1 MiB GETs
 * to another spent a tenth to a fifth less CPU on each (by hand, see
 * docs/benchmarks.md); bench/mesh-transfer keeps both TCPs, the corked one
 * about a tenth faster at 256 MiB. The bytes on the wire are the same.
 *
 * The transport is @libp2p/tcp's own; only the connections it hands the
 * upgrader get the corked send. One whose shape is not @libp2p/tcp's (a
 * `socket` and a `sendData`) is left as it is, and the test of this file
 * fails, so a new @libp2p/tcp that changes it is noticed rather than slower.
 */
export function corkedTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  return preparingConnections(tcp(init), corkSends)
}

/** Gives the connection the corked send; one that is not @libp2p/tcp's shape is left as it was. */
function corkSends (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as { socket?: unknown, sendData?: unknown }
  const socket = conn.socket
  if (!(socket instanceof Socket) || typeof conn.sendData !== 'function') return
  conn.sendData = (data: Uint8ArrayList) => corkedSend(socket, data)
}

/**
 * Writes every piece of `data` with one system call (a writev once the
 * socket is uncorked). As @libp2p/tcp's own send, it takes all the bytes and
 * says whether the socket wants more before its 'drain': a write that found
 * the socket's buffer past its high-water mark returned false, so that
 * 'drain' comes once the kernel has taken what is left.
 */
export function corkedSend (socket: Socket, data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
  socket.cork()
  try {
    for (const buf of data) socket.write(buf)
  } finally {
    socket.uncork()
  }
  return { sentBytes: data.byteLength, canSendMore: socket.writableLength < socket.writableHighWaterMark }
}
