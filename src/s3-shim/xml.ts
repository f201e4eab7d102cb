import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser'
import { S3Error } from '../core/errors.js'

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/'

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: false, processEntities: true })

/** Elements that repeat in the request bodies s3mesh reads, so they always parse as arrays. */
const REPEATED = new Set(['Object', 'Part', 'Tag', 'Grant', 'Rule', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader'])
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keep "007" and "true" as strings: S3 values are text
  trimValues: false, // keys may begin or end with spaces
  removeNSPrefix: true,
  // Numeric character references (&#34;) are how Go's encoding/xml (rclone, MinIO clients) writes quotes.
  htmlEntities: true,
  isArray: name => REPEATED.has(name),
})

/**
 * A built document with each CR written as `&#13;`, as S3 writes it: the
 * builder escapes only `& < > " '`, and a parser reads a raw CR back as LF
 * (XML 1.0, 2.11), so a key with one was listed as another key, found by no
 * request. (Other control characters stay as they are: a parser that takes
 * them at all, as the AWS SDKs' does, keeps them raw and drops them written as
 * references; `encoding-type=url` is how S3 says to list such keys.)
 */
function built (doc: XmlElement): string {
  const text = builder.build(doc) as string
  return text.includes('\r') ? text.replaceAll('\r', '&#13;') : text
}

/** A value in a built document: text, a nested element, or repeated elements. */
export type XmlValue = string | number | boolean | undefined | XmlElement | XmlElement[] | string[]
export interface XmlElement { [name: string]: XmlValue }

/** Renders `{ Root: {...} }` as an S3 XML document with the S3 namespace on the root. */
export function renderXml (root: string, body: XmlElement, namespace = true): string {
  const doc = namespace ? { [root]: { '@xmlns': S3_NS, ...body } } : { [root]: body }
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + built(doc)
}

/**
 * As xmlResponse, with `sequence` after the body's elements, in its order:
 * elements of different names interleaved, as S3 lists versions and delete
 * markers (an XmlElement groups each name's elements together).
 */
export function xmlResponseInOrder (root: string, body: XmlElement, sequence: ReadonlyArray<readonly [string, XmlElement]>, init: ResponseInit = {}): Response {
  const doc = renderXml(root, body)
  const close = doc.lastIndexOf(`</${root}>`)
  const children = sequence.map(([name, el]) => built({ [name]: el })).join('')
  return withXmlType(doc.slice(0, close) + children + doc.slice(close), init)
}

export function xmlResponse (root: string, body: XmlElement, init: ResponseInit = {}): Response {
  return withXmlType(renderXml(root, body), init)
}

function withXmlType (doc: string, init: ResponseInit): Response {
  const headers = new Headers(init.headers)
  headers.set('content-type', 'application/xml')
  return new Response(doc, { ...init, headers })
}

/** A parsed element: text children as strings, repeated ones as arrays. */
export type Parsed = { [name: string]: string | Parsed | Parsed[] | string[] | undefined }

/** What XML does not parse for references: CDATA sections, comments, processing instructions (opener, closer). */
const UNPARSED: Array<[string, string]> = [['<![CDATA[', ']]>'], ['<!--', '-->'], ['<?', '?>']]

/**
 * A document's character data, where `&#1;` is a reference: not inside a tag
 * (an attribute value may hold `<`), a comment, a CDATA section or a
 * processing instruction. Well-formedness is the validator's to judge.
 */
function textBetweenMarkup (text: string): string {
  let out = ''
  let at = 0
  while (at < text.length) {
    const lt = text.indexOf('<', at)
    if (lt < 0) return out + text.slice(at)
    // Kept apart by a space, so that no reference is made of two pieces.
    out += text.slice(at, lt) + ' '
    const skipped = UNPARSED.find(([opener]) => text.startsWith(opener, lt))
    if (skipped !== undefined) {
      const [opener, closer] = skipped
      const end = text.indexOf(closer, lt + opener.length)
      at = end < 0 ? text.length : end + closer.length
      continue
    }
    // A tag: up to its `>`, outside quoted attribute values.
    let quote = ''
    let i = lt + 1
    for (; i < text.length; i++) {
      const c = text[i]!
      if (quote !== '') { if (c === quote) quote = '' } else if (c === '"' || c === "'") quote = c
      else if (c === '>') break
    }
    at = i + 1
  }
  return out
}

/**
 * The first character XML 1.0 does not allow, as is or as a character
 * reference (&#1;, &#xD800;), if any. The parser would drop a reference to
 * one silently, and a key in a DeleteObjects body would then name another key.
 */
function notXmlChar (text: string): number | undefined {
  const raw = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(text)
  if (raw !== null) return raw[0].charCodeAt(0)
  if (!text.includes('&#')) return undefined
  for (const m of textBetweenMarkup(text).matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const code = m[1]!.startsWith('x') ? parseInt(m[1]!.slice(1), 16) : parseInt(m[1]!, 10)
    const allowed = code === 0x9 || code === 0xA || code === 0xD || (code >= 0x20 && code <= 0xD7FF) || (code >= 0xE000 && code <= 0xFFFD) || (code >= 0x10000 && code <= 0x10FFFF)
    if (!allowed) return code
  }
  return undefined
}

/**
 * Parses a request body that must have the given root element. Anything that
 * is not well-formed XML, declares a DOCTYPE (entity expansion attacks), or has
 * another root is MalformedXML.
 */
export function parseXmlBody (bytes: Uint8Array, root: string): Parsed {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    // Not replaced by U+FFFD: a key in a DeleteObjects body would then name another key.
    throw new S3Error('MalformedXML', 'The XML you provided is not UTF-8.')
  }
  if (text.trim() === '') throw new S3Error('MalformedXML', `The request body is empty; expected a <${root}> XML body.`)
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML', 'XML documents with a DOCTYPE are not accepted.')
  const bad = notXmlChar(text)
  if (bad !== undefined) throw new S3Error('MalformedXML', `The XML you provided has a character XML 1.0 does not allow (U+${bad.toString(16).toUpperCase().padStart(4, '0')}).`)
  const valid = XMLValidator.validate(text)
  if (valid !== true) throw new S3Error('MalformedXML', `The XML you provided was not well-formed: ${valid.err.msg} (line ${valid.err.line}).`)
  let doc: Parsed
  try {
    doc = parser.parse(text) as Parsed
  } catch (err) {
    // Well-formed, but beyond what the parser takes: nesting deeper than it allows, an element named __proto__.
    throw new S3Error('MalformedXML', `The XML you provided could not be read: ${err instanceof Error ? err.message : String(err)}`)
  }
  const top = doc[root]
  if (top === undefined || typeof top === 'string' || Array.isArray(top)) {
    if (top === '') return {}
    throw new S3Error('MalformedXML', `Expected a <${root}> XML body.`)
  }
  return top
}

/** The text of a child element, or undefined. Nested elements are not text: MalformedXML. */
export function textOf (el: Parsed, name: string): string | undefined {
  const v = el[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new S3Error('MalformedXML', `<${name}> must contain text.`)
  return v
}

/** Repeated child elements (declared in REPEATED), each an element. */
export function elementsOf (el: Parsed, name: string): Parsed[] {
  const v = el[name]
  if (v === undefined) return []
  if (!Array.isArray(v)) throw new S3Error('MalformedXML', `<${name}> is malformed.`)
  return v.map(x => typeof x === 'string' ? {} : x)
}

/** Repeated text children (declared in REPEATED). */
export function textsOf (el: Parsed, name: string): string[] {
  const v = el[name]
  if (v === undefined) return []
  if (!Array.isArray(v) || v.some(x => typeof x !== 'string')) throw new S3Error('MalformedXML', `<${name}> must contain text.`)
  return v as string[]
}

/** The element of a child, or undefined. */
export function childOf (el: Parsed, name: string): Parsed | undefined {
  const v = el[name]
  if (v === undefined) return undefined
  if (v === '') return {}
  if (typeof v === 'string' || Array.isArray(v)) throw new S3Error('MalformedXML', `<${name}> is malformed.`)
  return v
}
