import { XMLParser } from 'fast-xml-parser'
import { S3Error } from '../core/errors.js'
import type { CorsRule } from '../core/object-store.js'

// Reading the S3 documents a mesh node answers a GatewayStore with.

/** Elements that repeat in the S3 answers read here. */
const REPEATED = new Set(['Bucket', 'Contents', 'Upload', 'Part', 'Tag', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader', 'CommonPrefixes', 'Version', 'DeleteMarker'])
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false, removeNSPrefix: true, htmlEntities: true, isArray: name => REPEATED.has(name) })
export type Xml = Record<string, unknown>

export async function xmlOf (res: Response, root: string): Promise<Xml> {
  const doc = parser.parse(await res.text()) as Xml
  const top = doc[root]
  if (top === undefined) throw new S3Error('InternalError', `A mesh node answered without the expected <${root}> document.`)
  return top === '' ? {} : top as Xml
}
export const list = (el: Xml, name: string): Xml[] => (el[name] as Xml[] | undefined) ?? []

/** The same documents parsed in document order, for the one whose elements of different names interleave (ListVersionsResult). */
export const inOrder = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false, removeNSPrefix: true, htmlEntities: true, preserveOrder: true })
export type Ordered = Array<Record<string, unknown>>
/** An ordered element's children as [name, children] pairs (text and attributes left out). */
export const childrenOf = (nodes: Ordered): Array<[string, Ordered]> => nodes.flatMap(n => Object.entries(n).filter(([name]) => name !== ':@' && name !== '#text') as Array<[string, Ordered]>)
/** An ordered element's text. */
export const textIn = (nodes: Ordered): string => nodes.map(n => typeof n['#text'] === 'string' ? n['#text'] : '').join('')
/** An ordered element whose children are text, as the Xml the rest of this file reads. */
export const flat = (nodes: Ordered): Xml => Object.fromEntries(childrenOf(nodes).map(([name, c]) => [name, textIn(c)]))
export const text = (el: Xml, name: string): string => typeof el[name] === 'string' ? el[name] : ''
export const unquote = (etag: string): string => etag.replace(/^"|"$/g, '')

/** A <CORSRule> as the store's CorsRule. */
export function ruleOf (r: Xml): CorsRule {
  const texts = (name: string): string[] => (r[name] as string[] | undefined) ?? []
  const maxAge = text(r, 'MaxAgeSeconds')
  return {
    ...(text(r, 'ID') === '' ? {} : { id: text(r, 'ID') }),
    allowedOrigins: texts('AllowedOrigin'),
    allowedMethods: texts('AllowedMethod'),
    allowedHeaders: texts('AllowedHeader'),
    exposeHeaders: texts('ExposeHeader'),
    ...(maxAge === '' ? {} : { maxAgeSeconds: Number(maxAge) }),
  }
}
