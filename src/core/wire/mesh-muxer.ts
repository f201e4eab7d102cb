import { yamux } from '@libp2p/yamux'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/**
 * yamux stream settings for every libp2p node of the mesh. yamux grants window
 * as data arrives, not as it is read: a paused stream (a reader applying
 * backpressure, see SealedFrames) still receives what was granted, up to about
 * two windows. A 4 MiB window keeps that well inside the read buffer.
 */
export const YAMUX_STREAM_OPTIONS = {
  initialStreamWindowSize: 256 * 1024,
  maxStreamWindowSize: 4 * 1024 * 1024,
  maxReadBufferLength: 16 * 1024 * 1024,
  inactivityTimeout: 120_000,
}

/** The part of a YamuxStream the window policy reads (private in its types). */
interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

let installed = false

/**
 * Makes yamux grant a sender more credit once half of a stream's receive
 * window is used, as go-yamux and rust-yamux do, instead of after every frame
 * received. @libp2p/yamux 8 answers each data frame with a window update:
 * one more frame each way (a Noise message to seal, a socket write, a frame
 * to open and handle) for every push chunk and every gossip message, which
 * was several percent of a replicated write's CPU on each member. The wire
 * format is unchanged, and peers with either policy work together: credit
 * is only granted later, never beyond the window; updates that carry a flag
 * (SYN, ACK) and those of a stream not yet established or paused go the
 * original's way; a resume after a pause grants once half the window is
 * used, like any other update (a sender with no credit left means the
 * window is used up, so it is never left waiting). The window still doubles
 * when updates come within four round trips, now measured per half window
 * rather than per frame.
 * Installed once, on the class @libp2p/yamux exports for it: every yamux
 * stream in the process follows it from then on, including those of libp2p
 * nodes an application embedding s3mesh makes itself.
 */
function grantAtHalfWindow (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: (this: WindowState) => void }
  const everyFrame = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState) {
    if (this.state === StreamState.Established && this.recvWindowCapacity * 2 >= this.recvWindow) return
    everyFrame.call(this)
  }
}

/** The stream muxer every s3mesh member (node or tab) uses: yamux, with the settings and window policy above. */
export function meshMuxer (): ReturnType<typeof yamux> {
  grantAtHalfWindow()
  return yamux({ streamOptions: YAMUX_STREAM_OPTIONS })
}
