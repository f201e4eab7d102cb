/**
 * SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ becomes %XX (upper
 * case); `/` stays as is in paths.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export function uriEncode (s: string, keepSlash: boolean): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return keepSlash ? e.replace(/%2F/g, '/') : e
}
