import type { AccessControl, Principal } from '../core/access/access-control.js'
import type { Hashes } from '../core/hashes.js'
import type { ObjectStore } from '../core/object-store.js'
import { readAll } from '../core/streams.js'
import { decodePayload, type Payload } from './auth/payload.js'
import type { SignedIdentity } from './auth/sigv4.js'
import type { ClientInfo } from './access/request-actions.js'
import type { Route } from './router.js'
import { parseXmlBody, type Parsed } from './xml.js'

/** XML request bodies (Delete of 1,000 keys, CORS, tagging, part lists) stay well under this. */
const MAX_XML_BODY = 2 * 1024 * 1024

/** Who asks, and what decides what they may do. */
export interface RequestAuth {
  principal: Principal
  /** Users and policies; absent on endpoints that know only their own credentials (everything is allowed there). */
  access?: AccessControl
  /** The connection the request came on: condition keys (aws:SourceIp, aws:SecureTransport). */
  client: ClientInfo
}

/** Everything an operation needs about one request. Built once by the handler. */
export class Context {
  readonly bucket: string
  readonly key: string
  readonly query: Map<string, string>
  private payload?: Payload
  /** PutObjectTagging: the tags its body sets, read before its check (policies see them as s3:RequestObjectTag). */
  bodyTags?: Record<string, string>

  constructor (
    readonly request: Request,
    readonly url: URL,
    readonly route: Route,
    readonly store: ObjectStore,
    readonly hashes: Hashes,
    readonly identity: SignedIdentity | undefined,
    readonly signal: AbortSignal,
    readonly requestId: string,
    readonly region: string,
    readonly auth: RequestAuth,
  ) {
    this.bucket = route.bucket
    this.key = route.key
    this.query = route.query
  }

  get headers (): Headers { return this.request.headers }

  /** The request body, decoded (aws-chunked) and verified (signatures, checksums) as it streams. */
  body (): Payload {
    // A completion's x-amz-checksum-* is the object's, not its XML body's.
    this.payload ??= decodePayload(this.request, this.identity, this.hashes, { checksumHeaders: this.route.operation !== 'CompleteMultipartUpload' })
    return this.payload
  }

  /** The request body as a small verified XML document with the given root element. */
  async xml (root: string): Promise<Parsed> {
    const bytes = await readAll(this.body().body, MAX_XML_BODY, this.signal)
    return parseXmlBody(bytes, root)
  }

  /** Like xml(), for requests whose XML body is optional: undefined when the body is empty. */
  async optionalXml (root: string): Promise<Parsed | undefined> {
    const bytes = await readAll(this.body().body, MAX_XML_BODY, this.signal)
    return bytes.byteLength === 0 ? undefined : parseXmlBody(bytes, root)
  }
}

/** What answers one S3 operation (the router names it: `Operation`). */
export type OperationHandler = (ctx: Context) => Promise<Response>
