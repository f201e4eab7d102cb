/** A modal question (the native <dialog>: focus kept inside, Escape closes it). */
import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'

export function Dialog ({ title, children, onClose }: { title: string, children: ComponentChildren, onClose: () => void }): preact.JSX.Element {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current!
    d.showModal()
    return () => { d.close() }
  }, [])
  // Escape asks the owner (onClose), which may refuse while something runs.
  return <dialog ref={ref} aria-labelledby="dialog-title" onCancel={e => { e.preventDefault(); onClose() }}>
    <article>
      <header><h2 id="dialog-title">{title}</h2></header>
      {children}
    </article>
  </dialog>
}
