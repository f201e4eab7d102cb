/** What every view of a logged-in console shares. */
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { MeshWatch } from './mesh-watch.js'
import type { Session } from './session.js'
import type { UploadQueue } from './upload-queue.js'

export interface ConsoleContext {
  session: Session
  watch: MeshWatch
  uploads: UploadQueue
  /** Shows an error in plain words (undefined clears it). */
  showError: (message: string | undefined) => void
  /** A short, polite status message ("Link copied."). */
  notify: (message: string) => void
}

export const Ctx = createContext<ConsoleContext | undefined>(undefined)

export function useConsole (): ConsoleContext {
  const c = useContext(Ctx)
  if (c === undefined) throw new Error('useConsole outside a logged-in console')
  return c
}

/** The message of whatever was thrown. */
export const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)
