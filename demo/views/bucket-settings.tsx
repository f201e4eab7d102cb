import { useEffect, useState } from 'preact/hooks'
import { messageOf, useConsole } from '../context.js'
import { href } from '../router.js'
import { getCors, putCors } from '../s3-api.js'

const EXAMPLE = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>https://app.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`

/** A bucket's settings: its CORS rules (S3's XML), replicated to every member with the bucket. */
export function BucketSettings ({ bucket }: { bucket: string }): preact.JSX.Element {
  const { session, showError, notify } = useConsole()
  const [rules, setRules] = useState<string>()
  useEffect(() => {
    getCors(session, bucket).then(setRules, err => { showError(messageOf(err)); setRules('') })
  }, [bucket])
  const save = async (e: Event): Promise<void> => {
    e.preventDefault()
    try {
      await putCors(session, bucket, rules ?? '')
      showError(undefined)
      notify(rules?.trim() === '' ? `CORS rules of ${bucket} removed.` : `CORS rules of ${bucket} saved.`)
    } catch (err) { showError(messageOf(err)) }
  }
  return <section aria-labelledby="settings-title">
    <nav aria-label="Breadcrumb"><ul><li><a href={href({ view: 'buckets' })}>Buckets</a></li><li><a href={href({ view: 'objects', bucket, prefix: '' })}>{bucket}</a></li><li>Settings</li></ul></nav>
    <h1 id="settings-title">Settings of {bucket}</h1>
    <form onSubmit={e => { void save(e) }}>
      <label>CORS rules
        <textarea rows={14} class="code" value={rules ?? ''} disabled={rules === undefined} aria-describedby="cors-help" onInput={e => { setRules(e.currentTarget.value) }} placeholder={EXAMPLE} />
      </label>
      <small id="cors-help" class="muted">Which web pages on other origins may call this bucket from a browser, as S3's CORSConfiguration XML. Empty removes the rules. Saved rules travel with the bucket to every member of the mesh.</small>
      <div class="row">
        <button type="submit">Save CORS rules</button>
        <button type="button" class="secondary outline" onClick={() => { setRules(EXAMPLE) }}>Insert an example</button>
      </div>
    </form>
    <p class="muted">Access policies and versioning will appear here when s3mesh has them.</p>
  </section>
}
