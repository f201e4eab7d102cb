/**
 * Lifeguard's local health awareness (memberlist awareness.go): a score that
 * rises when this member misses acks or nacks it should have had (so it is
 * probably the slow one) and falls as probes succeed. Timeouts are stretched by
 * (score + 1), so a struggling member waits longer before suspecting others.
 */
export class Awareness {
  private score = 0

  constructor (private readonly max: number) {}

  applyDelta (delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta))
  }

  get healthScore (): number { return this.score }

  scale (ms: number): number {
    return ms * (this.score + 1)
  }
}
