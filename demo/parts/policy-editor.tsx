/**
 * A policy document's editor: JSON in a textarea, checked by the same parser
 * the node runs (parsePolicy) when the person leaves the field or saves, and
 * again as they type once a problem shows, so the message goes when it is
 * fixed. A refusal, the page's or the node's, is shown in place beside it.
 */
import { MalformedPolicyError, parsePolicy, type PolicyKind } from '../../src/core/access/policy.js'

/** What is wrong with a document (as the node would say it), or undefined when it is a policy the node takes. */
export function policyProblem (text: string, kind: PolicyKind): string | undefined {
  try {
    parsePolicy(text, kind)
    return undefined
  } catch (err) {
    return err instanceof MalformedPolicyError ? err.message : String(err)
  }
}

export interface PolicyEditorProps {
  id: string
  label: string
  kind: PolicyKind
  value: string
  onInput: (text: string) => void
  /** What is wrong with the document now (the page's check or the node's refusal). */
  problem: string | undefined
  onProblem: (problem: string | undefined) => void
  /** The error code the message goes with: MalformedPolicyDocument (IAM) or MalformedPolicy (S3). */
  code?: string
  help?: string
  readOnly?: boolean
  rows?: number
}

export function PolicyEditor (p: PolicyEditorProps): preact.JSX.Element {
  const check = (text: string): void => { p.onProblem(text.trim() === '' ? undefined : policyProblem(text, p.kind)) }
  return <div class="policy-editor">
    <label for={p.id}>{p.label}</label>
    <textarea id={p.id} class="code" rows={p.rows ?? 14} spellcheck={false} value={p.value} readOnly={p.readOnly === true}
      aria-invalid={p.problem === undefined ? undefined : 'true'} aria-describedby={`${p.id}-problem${p.help === undefined ? '' : ` ${p.id}-help`}`}
      onInput={e => { const text = e.currentTarget.value; p.onInput(text); if (p.problem !== undefined) check(text) }}
      onBlur={e => { if (p.readOnly !== true) check(e.currentTarget.value) }} />
    <p id={`${p.id}-problem`} class="field-problem" aria-live="polite">
      {p.problem !== undefined && <><strong>Not a policy the node accepts</strong> <span class="mono">({p.code ?? 'MalformedPolicyDocument'})</span>: {p.problem}</>}
    </p>
    {p.help !== undefined && <small id={`${p.id}-help`} class="muted">{p.help}</small>}
  </div>
}
