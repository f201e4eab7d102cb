/**
 * The access state on disk: `<data>/.s3mesh/access.json`, mode 0600 (it
 * holds users' secret keys; only the node's user reads it), replaced whole
 * and durably (temp file, fsync, rename) on every change, so a crash leaves
 * the old state or the new, never half of one. A change made through this
 * node is saved before its API call answers.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { asEntry, type AccessEntry } from '../core/access/access-records.js'
import type { AccessState } from '../core/access/access-state.js'
import { CliError } from './cli-error.js'
import { codeOf, renameInto, writeDurable } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'

const FORMAT = 1

export class AccessFile {
  readonly path: string
  private writing: Promise<void> = Promise.resolve()
  private pending = false

  constructor (private readonly layout: DiskLayout, private readonly state: AccessState) {
    this.path = join(layout.system, 'access.json')
  }

  /** Reads the saved entries into the state; a damaged file stops the start with a message that names it. */
  async load (): Promise<number> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return 0
      throw err
    }
    let entries: AccessEntry[]
    let skipped = 0
    try {
      const doc = JSON.parse(text) as { format?: number, entries?: unknown[] }
      if (doc.format !== FORMAT || !Array.isArray(doc.entries)) throw new Error(`not format ${FORMAT}`)
      // One entry this version cannot read does not cost the others: it is skipped and said.
      entries = doc.entries.map(asEntry).filter((e): e is AccessEntry => e !== undefined)
      skipped = doc.entries.length - entries.length
    } catch (err) {
      throw new CliError(`${this.path} is damaged (${err instanceof Error ? err.message : String(err)}). Restore it from a backup, or move it away: this node then learns users and policies from the other members (a lone node starts with none).`)
    }
    if (skipped > 0) process.stderr.write(`s3mesh: ${skipped} entries of ${this.path} could not be read and were skipped; the other members' copies bring them back\n`)
    await this.state.merge(entries, false, true)
    return entries.length
  }

  /** Saves the state as it is now; overlapping calls coalesce into one more write after the one in flight. */
  async save (): Promise<void> {
    if (this.pending) return await this.writing
    this.pending = true
    const previous = this.writing
    this.writing = (async () => {
      await previous.catch(() => {})
      this.pending = false
      const tmp = this.layout.tmpPath('access.json')
      await writeDurable(tmp, JSON.stringify({ format: FORMAT, entries: this.state.all() }), true, 0o600)
      await renameInto(tmp, this.path)
    })()
    return await this.writing
  }
}
