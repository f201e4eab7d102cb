import { slotOf, type CatalogEntry } from './catalog-entry.js'

// How the repair loop and its hand-overs name a slot of a key (catalog-entry.ts) in their maps and queues.

/** A slot of a key, as much as the repair loop keeps of an entry it is to look at again (the entry is read then). */
export interface SlotRef { bucket: string, key: string, versionId?: string }
/** An entry, or a SlotRef. */
export type Slotted = Pick<CatalogEntry, 'bucket' | 'key' | 'versionId'>

export function slotRef (e: Slotted): SlotRef {
  return { bucket: e.bucket, key: e.key!, ...(e.versionId === undefined ? {} : { versionId: e.versionId }) }
}

/** A slot of a bucket's key, as one string. */
export function entryId (e: Slotted): string {
  return `${e.bucket}\n${slotId(e)}`
}

/** A slot of a key, as one string. */
export function slotId (e: Slotted): string {
  return `${e.key!}\n${slotOf(e)}`
}

/** An owner's push of a version to a member. */
export function pushId (member: string, e: Slotted): string {
  return `${member}\n${entryId(e)}`
}
