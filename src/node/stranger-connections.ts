import type { Connection, Libp2p } from '@libp2p/interface'
import { CliError } from './cli-error.js'

/** How long a peer that is neither a member nor a tab this node admitted may stay connected, by default, ms. */
export const DEFAULT_STRANGER_MS = 30_000

/** Connections this process closed because their peer was still a stranger at the end of the grace (for /metrics). */
export const STRANGERS = { closed: 0 }

/** S3MESH_STRANGER_SECONDS, for tests and for links slow enough that a join takes longer. */
export function strangerGrace (env: NodeJS.ProcessEnv): number {
  const text = env.S3MESH_STRANGER_SECONDS
  if (text === undefined || text === '') return DEFAULT_STRANGER_MS
  const seconds = Number(text)
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) throw new CliError(`S3MESH_STRANGER_SECONDS must be a whole number of seconds from 1 to 3600, not "${text}".`, 2)
  return seconds * 1000
}

/**
 * Closes every connection whose peer, `graceMs` after it opened, `mayKeep`
 * does not name (a member, or a tab this node admitted). Anyone may connect,
 * and an idle connection stays open for good: strangers held every one of a
 * node's connection slots (300 identities in five seconds), and each could
 * pin a half-sent gossip message of up to 4 MiB without a timeout. A member
 * joining is named within the grace (its first push-pull), a tab before it
 * connects (its admission). Returns what stops the checks.
 */
export function closeStrangers (libp2p: Libp2p, mayKeep: (peer: string) => boolean, graceMs: number): () => void {
  /** The connections waiting for their check, by id. */
  const waiting = new Map<string, ReturnType<typeof setTimeout>>()
  const check = (connection: Connection): void => {
    if (mayKeep(connection.remotePeer.toString()) || waiting.has(connection.id)) return
    const timer = setTimeout(() => {
      waiting.delete(connection.id)
      if (connection.status !== 'open' || mayKeep(connection.remotePeer.toString())) return
      STRANGERS.closed++
      // This connection only: the same peer may have opened another since, whose grace is its own.
      connection.abort(new Error('neither a member nor an admitted tab'))
    }, graceMs)
    // A node stopping does not wait for it.
    timer.unref()
    waiting.set(connection.id, timer)
  }
  const onOpen = (e: CustomEvent<Connection>): void => { check(e.detail) }
  const onClose = (e: CustomEvent<Connection>): void => {
    clearTimeout(waiting.get(e.detail.id))
    waiting.delete(e.detail.id)
  }
  libp2p.addEventListener('connection:open', onOpen)
  libp2p.addEventListener('connection:close', onClose)
  // Those opened before this was called (while the member started).
  for (const connection of libp2p.getConnections()) check(connection)
  return () => {
    libp2p.removeEventListener('connection:open', onOpen)
    libp2p.removeEventListener('connection:close', onClose)
    for (const t of waiting.values()) clearTimeout(t)
    waiting.clear()
  }
}
