/**
 * The service worker's list of the pages that run a page node. Only a
 * cache: after the browser restarts the worker it is empty, and the open
 * pages are asked again. A page whose node failed a request while the page
 * stayed open (it timed out, busy with a large upload, or its answer failed)
 * is set aside, not forgotten: it is asked again (a ping) after a wait that
 * doubles while it does not answer, so one slow moment does not leave the
 * origin without its node until the browser restarts the worker.
 */

/** A page as the worker sees it. */
export interface PageClient { readonly id: string }

export interface PageNodesOptions<C extends PageClient> {
  /** All open window clients of the worker (asked once, when the list is empty after a restart). */
  all: () => Promise<C[]>
  /** The open client `id`, or undefined once the page closed. */
  get: (id: string) => Promise<C | undefined>
  /** Whether `client` runs a page node that answers now (bridge.ts pingPageNode). */
  ping: (client: C) => Promise<boolean>
  /** Told when a page is forgotten (closed, or its node stopped), to drop what is kept for it. */
  forget?: (id: string) => void
  /** The clock, ms (tests). */
  now?: () => number
}

/** How long a page set aside waits before it is asked again, ms (doubled at each ping it does not answer). */
export const ASIDE_FIRST_MS = 2_000
/** The longest such wait, ms. */
export const ASIDE_MAX_MS = 60_000

export class PageNodes<C extends PageClient> {
  /** Pages whose node is up, in the order they said so (the first open one answers). */
  private readonly up = new Set<string>()
  /** Pages set aside after a failed request, with when each is asked again. */
  private readonly aside = new Map<string, { at: number, waitMs: number }>()
  private asked = false
  private readonly now: () => number

  constructor (private readonly o: PageNodesOptions<C>) {
    this.now = o.now ?? Date.now
  }

  /** A page whose node answers requests, or undefined when no page runs one. */
  async pick (): Promise<C | undefined> {
    if (!this.asked) {
      this.asked = true
      const clients = await this.o.all()
      await Promise.all(clients.map(async c => { if (await this.o.ping(c)) this.up.add(c.id) }))
    }
    const open = await this.firstOpen()
    if (open !== undefined) return open
    await this.askAside()
    return await this.firstOpen()
  }

  /** Page `id` says its node is up (again). */
  started (id: string): void {
    this.aside.delete(id)
    this.up.add(id)
  }

  /** Page `id` says its node stopped, or it closed: forgotten until it says it is up. */
  stopped (id: string): void {
    this.up.delete(id)
    this.aside.delete(id)
  }

  /**
   * A request page `id` had failed: forgotten if the page closed or its node
   * stopped (`gone`), else set aside until its wait is over.
   */
  failed (id: string, gone: boolean): void {
    const was = this.up.delete(id)
    if (gone || !was) { this.aside.delete(id); return }
    this.aside.set(id, { at: this.now() + ASIDE_FIRST_MS, waitMs: ASIDE_FIRST_MS })
  }

  private async firstOpen (): Promise<C | undefined> {
    for (const id of this.up) {
      const client = await this.o.get(id)
      if (client !== undefined) return client
      this.up.delete(id)
      this.o.forget?.(id)
    }
    return undefined
  }

  /** Pings the pages set aside whose wait is over: one that answers is up again, one closed is forgotten. */
  private async askAside (): Promise<void> {
    const now = this.now()
    const due = [...this.aside].filter(([, a]) => a.at <= now)
    await Promise.all(due.map(async ([id, a]) => {
      const client = await this.o.get(id)
      if (this.aside.get(id) !== a) return // told meanwhile (up, stopped or failed again)
      if (client === undefined) { this.aside.delete(id); this.o.forget?.(id); return }
      const answered = await this.o.ping(client)
      if (this.aside.get(id) !== a) return
      if (answered) { this.aside.delete(id); this.up.add(id); return }
      a.waitMs = Math.min(a.waitMs * 2, ASIDE_MAX_MS)
      a.at = this.now() + a.waitMs
    }))
  }
}
