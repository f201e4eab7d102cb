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
  /** Pages set aside after a failed request: when each is asked again, and the ping under way. */
  private readonly aside = new Map<string, { at: number, waitMs: number, asking?: Promise<void> }>()
  /** Pages back from aside that have not answered a request since, with their last wait (a failure doubles it). */
  private readonly revived = new Map<string, number>()
  /** The open pages asked once, at the first pick (every pick meanwhile waits for it). */
  private sweep: Promise<void> | undefined
  private readonly now: () => number

  constructor (private readonly o: PageNodesOptions<C>) {
    this.now = o.now ?? Date.now
  }

  /** A page whose node answers requests, or undefined when no page runs one. */
  async pick (): Promise<C | undefined> {
    // A failure asking is a page not found (never a pick that throws, nor one kept and thrown at every pick).
    this.sweep ??= (async () => {
      const clients = await this.o.all().catch(() => [])
      await Promise.all(clients.map(async c => { if (await this.o.ping(c).catch(() => false)) this.up.add(c.id) }))
    })()
    await this.sweep
    const open = await this.firstOpen()
    if (open !== undefined) return open
    await this.askAside()
    return await this.firstOpen()
  }

  /** Page `id` says its node is up (again). */
  started (id: string): void {
    this.aside.delete(id)
    this.revived.delete(id)
    this.up.add(id)
  }

  /** Page `id` says its node stopped, or it closed: forgotten until it says it is up. */
  stopped (id: string): void {
    this.up.delete(id)
    this.aside.delete(id)
    this.revived.delete(id)
  }

  /** Page `id` answered a request: its node is well, and a later failure waits the shortest time again. */
  answered (id: string): void {
    this.revived.delete(id)
  }

  /**
   * A request page `id` had failed: forgotten if the page closed or its node
   * stopped (`gone`), else set aside until its wait is over. A page that
   * failed again before answering any request since it was back waits twice
   * as long (a page that answers pings but hangs on requests costs one
   * request per wait, not every request).
   */
  failed (id: string, gone: boolean): void {
    if (gone) { this.stopped(id); return }
    // Several requests a hung page had fail together: the first sets it aside.
    if (!this.up.delete(id)) return
    const last = this.revived.get(id)
    this.revived.delete(id)
    const waitMs = last === undefined ? ASIDE_FIRST_MS : Math.min(last * 2, ASIDE_MAX_MS)
    this.aside.set(id, { at: this.now() + waitMs, waitMs })
  }

  private async firstOpen (): Promise<C | undefined> {
    for (const id of this.up) {
      const client = await this.o.get(id)
      if (client !== undefined) return client
      this.up.delete(id)
      this.revived.delete(id)
      this.o.forget?.(id)
    }
    return undefined
  }

  /** Pings the pages set aside whose wait is over (one ping each, whoever else picks meanwhile): one that answers is up again, one closed is forgotten. */
  private async askAside (): Promise<void> {
    const now = this.now()
    await Promise.all([...this.aside].filter(([, a]) => a.at <= now || a.asking !== undefined).map(async ([id, a]) => {
      a.asking ??= (async () => {
        const client = await this.o.get(id).catch(() => undefined)
        if (this.aside.get(id) !== a) return // told meanwhile (up, stopped)
        if (client === undefined) { this.aside.delete(id); this.o.forget?.(id); return }
        const answered = await this.o.ping(client).catch(() => false)
        if (this.aside.get(id) !== a) return
        if (answered) {
          this.aside.delete(id)
          this.revived.set(id, a.waitMs)
          this.up.add(id)
          return
        }
        a.waitMs = Math.min(a.waitMs * 2, ASIDE_MAX_MS)
        a.at = this.now() + a.waitMs
        a.asking = undefined
      })()
      await a.asking
    }))
  }
}
