import type { Libp2p } from '@libp2p/interface'

/**
 * Sends each of `sends` from `from` to an echo protocol on `to`, closes, and
 * resolves with all that came back once `to` closed too.
 */
export async function echoed (from: Libp2p, to: Libp2p, sends: Uint8Array[]): Promise<Buffer> {
  await to.handle('/echo/1.0.0', stream => {
    stream.addEventListener('message', e => { stream.send(e.data) })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
  })
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, '/echo/1.0.0')
  const back: Uint8Array[] = []
  const ended = new Promise<void>(resolve => { stream.addEventListener('remoteCloseWrite', () => { resolve() }) })
  stream.addEventListener('message', e => { back.push(e.data.subarray()) })
  for (const piece of sends) stream.send(piece)
  await stream.close()
  await ended
  return Buffer.concat(back)
}
