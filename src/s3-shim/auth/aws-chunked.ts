import { S3Error } from '../../core/errors.js'
import { toHex, type Hash, type Hashes } from '../../core/hashes.js'
import { chunkSignature, timingSafeEqualHex, trailerSignature, type SignedIdentity } from './sigv4.js'

/** A chunk header or trailer line longer than this is hostile or broken. */
const MAX_LINE = 4096
/**
 * Trailer lines after the final chunk, the signature's included: SDKs send
 * one checksum (and its signature). Counted, or an endless trailer section
 * would grow the decoder's memory until the process dies.
 */
const MAX_TRAILER_LINES = 16
const CR = 13
const LF = 10

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done'

/**
 * Decodes an `aws-chunked` body as AWS SDKs send it: `hex-size[;chunk-signature=sig]\r\n
 * data\r\n ... 0[;chunk-signature=sig]\r\n[trailer: value\r\n ...]\r\n`.
 * With a signing identity every chunk signature is checked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD);
 * without one the chunks are unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
export class AwsChunkedDecoder {
  private state: State = 'size'
  private line: number[] = []
  private remaining = 0
  private chunkSig: string | undefined
  private chunkHash: Hash | undefined
  private previousSig: string
  private trailerText = ''
  private trailerSig: string | undefined
  private trailerLines = 0
  readonly trailers = new Map<string, string>()

  constructor (private readonly hashes: Hashes, private readonly identity: SignedIdentity | undefined) {
    this.previousSig = identity?.signature ?? ''
  }

  /** Feeds raw bytes; `emit` receives the decoded data, in order. */
  push (bytes: Uint8Array, emit: (data: Uint8Array) => void): void {
    let i = 0
    while (i < bytes.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, bytes.length - i)
          const data = bytes.subarray(i, i + n)
          this.chunkHash?.update(data)
          emit(data)
          this.remaining -= n
          i += n
          if (this.remaining === 0) { this.finishChunk(); this.state = 'data-end' }
          break
        }
        case 'done':
          throw new S3Error('IncompleteBody', 'Unexpected bytes after the end of an aws-chunked body.')
        default: {
          const b = bytes[i++]!
          if (b === LF && this.line.at(-1) === CR) {
            this.line.pop()
            const text = String.fromCharCode(...this.line)
            this.line = []
            this.onLine(text)
          } else {
            if (this.line.length >= MAX_LINE) throw new S3Error('IncompleteBody', 'An aws-chunked header line is too long.')
            this.line.push(b)
          }
        }
      }
    }
  }

  /** Call at end of input: throws unless the body ended exactly at its final chunk. */
  end (): void {
    if (this.state !== 'done') throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.')
  }

  private onLine (text: string): void {
    switch (this.state) {
      case 'data-end':
        if (text !== '') throw new S3Error('IncompleteBody', 'An aws-chunked chunk is longer than its declared size.')
        this.state = 'size'
        return
      case 'size': {
        const [sizeText, ...ext] = text.split(';')
        if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText ?? '')) throw new S3Error('IncompleteBody', `Malformed aws-chunked size line "${text.slice(0, 80)}".`)
        this.remaining = parseInt(sizeText!, 16)
        this.chunkSig = ext.find(e => e.startsWith('chunk-signature='))?.slice('chunk-signature='.length)
        if (this.identity !== undefined) {
          if (this.chunkSig === undefined) throw new S3Error('SignatureDoesNotMatch', 'An aws-chunked chunk has no chunk-signature.')
          this.chunkHash = this.hashes.create('sha256')
        }
        if (this.remaining === 0) {
          this.finishChunk()
          this.state = 'trailer'
        } else {
          this.state = 'data'
        }
        return
      }
      case 'trailer': {
        if (text === '') { this.finishTrailers(); this.state = 'done'; return }
        if (++this.trailerLines > MAX_TRAILER_LINES) throw new S3Error('IncompleteBody', `An aws-chunked body has more than ${MAX_TRAILER_LINES} trailer lines.`)
        const colon = text.indexOf(':')
        if (colon <= 0) throw new S3Error('IncompleteBody', 'Malformed aws-chunked trailer line.')
        const name = text.slice(0, colon).trim().toLowerCase()
        const value = text.slice(colon + 1).trim()
        if (name === 'x-amz-trailer-signature') {
          this.trailerSig = value
        } else {
          this.trailers.set(name, value)
          this.trailerText += `${name}:${value}\n`
        }
        return
      }
      default:
        throw new S3Error('IncompleteBody', 'Malformed aws-chunked body.')
    }
  }

  private finishChunk (): void {
    if (this.identity === undefined) return
    const expected = chunkSignature(this.hashes, this.identity, this.previousSig, toHex(this.chunkHash!.digest()))
    if (!timingSafeEqualHex(expected, this.chunkSig!)) {
      throw new S3Error('SignatureDoesNotMatch', 'An aws-chunked chunk signature does not match.')
    }
    this.previousSig = expected
  }

  private finishTrailers (): void {
    if (this.identity === undefined || this.trailers.size === 0) return
    if (this.trailerSig === undefined) throw new S3Error('SignatureDoesNotMatch', 'Signed aws-chunked trailers need x-amz-trailer-signature.')
    const expected = trailerSignature(this.hashes, this.identity, this.previousSig, this.trailerText)
    if (!timingSafeEqualHex(expected, this.trailerSig)) throw new S3Error('SignatureDoesNotMatch', 'The aws-chunked trailer signature does not match.')
  }
}
