/** Keys or credentials shown once, each with a copy button: the secret cannot be read again after this. */
import { Copy } from 'lucide-preact'
import { useLayoutEffect, useRef } from 'preact/hooks'
import { useConsole } from '../context.js'

export interface ShownField { label: string, value: string }

export function ShownOnce ({ title, fields, note, onDone }: { title: string, fields: ShownField[], note: string, onDone: () => void }): preact.JSX.Element {
  const { notify } = useConsole()
  const heading = useRef<HTMLHeadingElement>(null)
  // Keyboard and screen-reader users land on what just appeared: in the task that shows it (an effect runs after the
  // paint, and a key pressed meanwhile went to the button that was there before).
  useLayoutEffect(() => { heading.current?.focus() }, [])
  const id = (f: ShownField): string => `once-${f.label.toLowerCase().replace(/[^a-z]+/g, '-')}`
  const copy = (f: ShownField): void => {
    void navigator.clipboard.writeText(f.value).then(() => { notify(`${f.label} copied.`) }, () => {
      // No clipboard permission: select it for the person to copy.
      (document.getElementById(id(f)) as HTMLInputElement | null)?.select()
    })
  }
  return <section class="shown-once" aria-labelledby="once-title">
    <h2 id="once-title" ref={heading} tabindex={-1}>{title}</h2>
    <p>{note}</p>
    {fields.map(f => <div key={f.label} class="copy-field">
      <label for={id(f)}>{f.label}</label>
      <div class="link-row">
        <input id={id(f)} class="mono" readOnly value={f.value} onFocus={e => { e.currentTarget.select() }} />
        <button type="button" class="secondary icon-text" aria-label={`Copy ${f.label}`} onClick={() => { copy(f) }}><Copy size={16} aria-hidden /> Copy</button>
      </div>
    </div>)}
    <button type="button" class="done" onClick={onDone}>Done: I have kept them</button>
  </section>
}
