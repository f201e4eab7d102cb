import { decodeField, make as makeParser, type MultipartError } from 'multipasta'
import { S3Error } from '../../core/errors.js'

/** AWS refuses a POST whose fields before the file come to more than 20 KB. */
export const MAX_FORM_FIELDS_BYTES = 20 * 1024

/** Reads of the request after the file (the closing boundary, or fields S3 ignores) before the rest is cancelled. */
const TRAILING_READS = 16

/** A browser form POST (multipart/form-data) as S3 reads it: the fields before the file, then the file as a stream. */
export interface FormUpload {
  /** The fields before the file, by name lower-cased (S3 matches form field names without case). */
  fields: Map<string, string>
  file: {
    /** The file name the browser sent, if any (what `${filename}` in the key stands for). */
    filename?: string
    /** The file part's own Content-Type (the object's type is the form's Content-Type field). */
    contentType: string
    /** The file's bytes, read from the request as they are consumed. */
    body: ReadableStream<Uint8Array>
  }
}

/** Whether a request's body is a form upload (POST Object's, as opposed to an XML document). */
export function isFormUpload (headers: Headers): boolean {
  return /^multipart\/form-data\s*;/i.test(headers.get('content-type') ?? '')
}

function malformed (e: MultipartError): S3Error {
  if (e._tag === 'ReachedLimit') return new S3Error('MaxPostPreDataLengthExceeded', `Your POST request fields preceding the upload file were too large (at most ${MAX_FORM_FIELDS_BYTES} bytes).`)
  const why = e._tag === 'InvalidBoundary' ? 'its Content-Type names no boundary' : e._tag === 'BadHeaders' ? 'a part\'s headers are malformed' : e._tag === 'InvalidDisposition' ? 'a part has no field name' : 'it ends before its closing boundary'
  return new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${why}.`)
}

/**
 * Reads a form upload's fields and opens its file: resolves once the part
 * named `file` begins. The file streams with the request (nothing of it is
 * held beyond the chunk being parsed), and what follows it is ignored, as S3
 * ignores fields after the file. Fields past 20 KB, a form without a file and
 * one that is not well-formed are refused with S3's codes.
 */
export async function readFormUpload (request: Request, signal?: AbortSignal): Promise<FormUpload> {
  if (request.body === null) throw new S3Error('IncorrectNumberOfFilesInPostRequest')
  const reader = request.body.getReader()
  const fields = new Map<string, string>()
  let fieldBytes = 0
  let failure: S3Error | undefined
  let file: { filename?: string, contentType: string } | undefined
  /** File bytes parsed and not yet handed to the file stream's reader. */
  let pending: Uint8Array[] = []
  let fileEnded = false
  let formEnded = false
  const parser = makeParser({
    headers: { 'content-type': request.headers.get('content-type') ?? '' },
    // S3 takes the field named file as the content, whether or not it came with a file name.
    isFile: info => info.name.toLowerCase() === 'file',
    maxFieldSize: MAX_FORM_FIELDS_BYTES,
    onField (info, value) {
      if (file !== undefined) return
      const name = info.name.toLowerCase()
      fieldBytes += name.length + value.byteLength
      if (fieldBytes > MAX_FORM_FIELDS_BYTES) failure ??= malformed({ _tag: 'ReachedLimit', limit: 'MaxFieldSize' })
      else if (fields.has(name)) failure ??= new S3Error('InvalidArgument', `The form field "${name}" appears more than once.`, { detail: { ArgumentName: name } })
      else fields.set(name, decodeField(info, value))
    },
    onFile (info) {
      // A second file comes after the first: ignored with everything else there.
      if (file !== undefined) return () => {}
      file = { contentType: info.contentType, ...(info.filename === undefined ? {} : { filename: info.filename }) }
      return chunk => { if (chunk === null) fileEnded = true; else pending.push(chunk) }
    },
    // What follows the file is ignored, as S3 ignores it: its errors too.
    onError (e) { if (!fileEnded) failure ??= malformed(e) },
    onDone () { formEnded = true },
  })
  const abort = (): void => { void reader.cancel(signal?.reason).catch(() => {}) }
  signal?.addEventListener('abort', abort, { once: true })

  /** Feeds the parser one more chunk of the request; false once the request has ended. */
  const feed = async (): Promise<boolean> => {
    const { done, value } = await reader.read()
    try {
      if (done) parser.end()
      else parser.write(value)
    } catch {
      // The parser's own decoding (a filename* that is not percent-encoding) throws rather than reporting.
      if (!fileEnded) failure ??= new S3Error('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data: a part\'s headers cannot be decoded.')
    }
    return !done
  }

  try {
    while (file === undefined && failure === undefined && !formEnded) {
      if (!await feed()) break
    }
  } catch (err) {
    signal?.removeEventListener('abort', abort)
    throw err
  }
  if (failure !== undefined || file === undefined) {
    signal?.removeEventListener('abort', abort)
    abort()
    throw failure ?? new S3Error('IncorrectNumberOfFilesInPostRequest', 'POST requires exactly one file upload per request: this form has no field named "file".')
  }
  const body = new ReadableStream<Uint8Array>({
    async pull (controller) {
      for (;;) {
        if (pending.length > 0) {
          for (const chunk of pending) controller.enqueue(chunk)
          pending = []
          return
        }
        if (fileEnded) {
          controller.close()
          signal?.removeEventListener('abort', abort)
          // What follows the file is the closing boundary, or fields S3 ignores: read (up to a point) and dropped.
          void (async () => {
            let reads = 0
            while (!formEnded && failure === undefined) {
              if (reads++ === TRAILING_READS) return await reader.cancel()
              if (!await feed()) return
            }
          })().catch(() => {})
          return
        }
        if (failure !== undefined) throw failure
        if (!await feed() && !fileEnded) throw failure ?? malformed({ _tag: 'EndNotReached' })
      }
    },
    cancel (reason) {
      signal?.removeEventListener('abort', abort)
      return reader.cancel(reason)
    },
  })
  return { fields, file: { ...file, body } }
}
