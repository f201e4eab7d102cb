import { S3Error } from '../../core/errors.js'
import type { CorsRule } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { CORS_VALUE } from '../http/cors.js'
import { elementsOf, textOf, textsOf, xmlResponse } from '../xml.js'

const METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE'])

export async function getBucketCors (ctx: Context): Promise<Response> {
  const bucket = await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  if (bucket.cors === undefined) throw new S3Error('NoSuchCORSConfiguration', undefined, { resource: ctx.bucket, detail: { BucketName: ctx.bucket } })
  return xmlResponse('CORSConfiguration', {
    CORSRule: bucket.cors.map(r => ({
      ID: r.id,
      AllowedOrigin: r.allowedOrigins,
      AllowedMethod: r.allowedMethods,
      AllowedHeader: r.allowedHeaders,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds,
    })),
  })
}

export async function putBucketCors (ctx: Context): Promise<Response> {
  const doc = await ctx.xml('CORSConfiguration')
  const rules: CorsRule[] = elementsOf(doc, 'CORSRule').map(el => {
    const rule: CorsRule = {
      allowedOrigins: textsOf(el, 'AllowedOrigin').map(s => s.trim()),
      allowedMethods: textsOf(el, 'AllowedMethod').map(s => s.trim()),
      allowedHeaders: textsOf(el, 'AllowedHeader').map(s => s.trim()),
      exposeHeaders: textsOf(el, 'ExposeHeader').map(s => s.trim()),
    }
    const id = textOf(el, 'ID')
    if (id !== undefined) rule.id = id
    const maxAge = textOf(el, 'MaxAgeSeconds')
    if (maxAge !== undefined) {
      if (!/^\d+$/.test(maxAge.trim())) throw new S3Error('MalformedXML', 'MaxAgeSeconds must be a whole number.')
      rule.maxAgeSeconds = Number(maxAge.trim())
    }
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) {
      throw new S3Error('MalformedXML', 'Every CORSRule needs at least one AllowedOrigin and one AllowedMethod.')
    }
    for (const m of rule.allowedMethods) {
      if (!METHODS.has(m)) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`)
    }
    for (const o of [...rule.allowedOrigins, ...rule.allowedHeaders]) {
      if (o.split('*').length > 2) throw new S3Error('InvalidRequest', `AllowedOrigin and AllowedHeader may contain at most one wildcard: "${o}".`)
    }
    // Each goes into (or is matched against) a header: one holding a space, a line break or another control
    // character, or a character beyond US-ASCII, would break every answer to a request it matches.
    for (const v of [...rule.allowedOrigins, ...rule.allowedHeaders, ...rule.exposeHeaders]) {
      if (v !== '' && !CORS_VALUE.test(v)) throw new S3Error('InvalidRequest', `AllowedOrigin, AllowedHeader and ExposeHeader are printable US-ASCII with no spaces: ${JSON.stringify(v)} is not.`)
    }
    return rule
  })
  if (rules.length === 0) throw new S3Error('MalformedXML', 'A CORS configuration needs at least one CORSRule.')
  if (rules.length > 100) throw new S3Error('MalformedXML', 'A CORS configuration has at most 100 rules.')
  await ctx.store.setBucketCors(ctx.bucket, rules, { signal: ctx.signal })
  return new Response(null, { status: 200 })
}

export async function deleteBucketCors (ctx: Context): Promise<Response> {
  await ctx.store.setBucketCors(ctx.bucket, undefined, { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
