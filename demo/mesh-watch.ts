/**
 * What this tab sees of the mesh, for the views to follow: its peers (the
 * nodes and other tabs, as the node it follows tells them), catalog changes
 * (kept as the announcement feed) and a slow tick for what changes without
 * events (connections, which node the tab follows).
 */
import { useEffect, useState } from 'preact/hooks'
import type { CatalogEntry } from '../src/core/mesh/catalog-entry.js'
import type { Session } from './session.js'

export interface FeedItem {
  at: number
  kind: 'put' | 'delete' | 'bucket' | 'bucket-delete'
  bucket: string
  key?: string
  holders: string[]
}

/** Announcements kept for the feed. */
const FEED_LIMIT = 200

export class MeshWatch {
  readonly feed: FeedItem[] = []
  /** Bumped on every change: views compare it to know they are stale. */
  version = 0
  private readonly listeners = new Set<() => void>()
  private readonly catalogListeners = new Set<(item: FeedItem) => void>()
  private readonly timer: ReturnType<typeof setInterval>
  /** Removes what the constructor attached to the tab's guest and catalog. */
  private readonly detach: () => void

  constructor (readonly session: Session) {
    const changed = (): void => { this.version++; for (const f of this.listeners) f() }
    const guest = session.tab.node?.guest
    const catalog = guest?.catalog
    const offPeers = guest?.onChange(changed)
    const onChange = (e: CustomEvent<CatalogEntry>): void => {
      const entry = e.detail
      const item: FeedItem = {
        at: Date.now(),
        kind: entry.key === undefined ? (entry.deleted ? 'bucket-delete' : 'bucket') : entry.deleted ? 'delete' : 'put',
        bucket: entry.bucket, ...(entry.key === undefined ? {} : { key: entry.key }), holders: entry.holders,
      }
      this.feed.unshift(item)
      if (this.feed.length > FEED_LIMIT) this.feed.length = FEED_LIMIT
      for (const f of this.catalogListeners) f(item)
      changed()
    }
    catalog?.addEventListener('change', onChange)
    this.detach = () => {
      offPeers?.()
      catalog?.removeEventListener('change', onChange)
    }
    // Connections and the followed node change without events.
    this.timer = setInterval(changed, 2000)
  }

  subscribe (f: () => void): () => void {
    this.listeners.add(f)
    return () => { this.listeners.delete(f) }
  }

  /** Each catalog change as it comes (views refresh their lists with it). */
  onCatalog (f: (item: FeedItem) => void): () => void {
    this.catalogListeners.add(f)
    return () => { this.catalogListeners.delete(f) }
  }

  stop (): void { clearInterval(this.timer); this.detach() }
}

/** Re-renders the calling component whenever the mesh changes. */
export function useMeshWatch (watch: MeshWatch): number {
  const [, setVersion] = useState(0)
  useEffect(() => watch.subscribe(() => { setVersion(watch.version) }), [watch])
  return watch.version
}

/** Runs `f` at most once a `ms`, the last call not lost: a burst of changes costs one refresh. `cancel()` drops a planned run (the view went away). */
export function throttled (ms: number, f: () => void): (() => void) & { cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const run = (): void => { timer ??= setTimeout(() => { timer = undefined; f() }, ms) }
  return Object.assign(run, { cancel: () => { clearTimeout(timer); timer = undefined } })
}
