import { useEffect, useState } from 'preact/hooks'
import { Boxes } from 'lucide-preact'
import { logIn, savedLogin, type Session } from '../session.js'

/** The login: root's keys (printed by the node when it starts) or a user's; a reload with a saved session logs straight back in. */
export function Login ({ onLogin, onError }: { onLogin: (s: Session) => void, onError: (m: string | undefined) => void }): preact.JSX.Element {
  const [busy, setBusy] = useState(false)
  const go = async (credentials: { accessKeyId: string, secretAccessKey: string }, remember: boolean): Promise<void> => {
    setBusy(true)
    onError(undefined)
    try {
      onLogin(await logIn(credentials, remember))
    } catch (err) {
      onError(err instanceof Error ? err.message : String(err))
      setBusy(false)
    }
  }
  useEffect(() => {
    const saved = savedLogin()
    if (saved !== undefined) void go(saved.credentials, saved.remember)
  }, [])
  return <main class="login-page">
    <article class="login-card">
      <header>
        <p class="brand"><Boxes size={28} aria-hidden /> <span>s3mesh</span></p>
        <h1 id="login-title">Log in</h1>
        <p class="muted">With your access key and secret key (root's are printed by the node when it starts). The secret stays in this browser: every request is signed here.</p>
      </header>
      <form id="login" aria-labelledby="login-title" onSubmit={e => {
        e.preventDefault()
        const form = new FormData(e.currentTarget)
        void go({ accessKeyId: String(form.get('accessKeyId')), secretAccessKey: String(form.get('secretAccessKey')) }, form.get('remember') !== null)
      }}>
        <label>Access key <input name="accessKeyId" autocomplete="username" required /></label>
        <label>Secret key <input name="secretAccessKey" type="password" autocomplete="current-password" required /></label>
        <label class="check"><input name="remember" type="checkbox" role="switch" /> Remember on this device</label>
        <button type="submit" aria-busy={busy} disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </article>
  </main>
}
