import * as btreeModule from 'sorted-btree'
import { compareKeys } from './key-order.js'

/** The part of sorted-btree's BTree used here. */
interface Tree<V> {
  readonly size: number
  get (key: string): V | undefined
  has (key: string): boolean
  set (key: string, value: V): boolean
  delete (key: string): boolean
  getPairOrNextHigher (key: string): [string, V] | undefined
  nextHigherPair (key: string): [string, V] | undefined
  values (): IterableIterator<V>
}
type TreeClass = new <V>(entries: undefined, compare: (a: string, b: string) => number) => Tree<V>

// sorted-btree is CommonJS with `exports.default = BTree`: Node's ESM loader
// exposes the class as `.default.default`, bundlers (esbuild, vite) as `.default`.
const mod = btreeModule as unknown as { default: TreeClass | { default: TreeClass } }
const BTree: TreeClass = 'default' in mod.default ? mod.default.default : mod.default

/** A map kept sorted by key in UTF-8 byte order, with paged range reads. */
export class SortedKeys<V> {
  private readonly tree = new BTree<V>(undefined, compareKeys)

  get size (): number { return this.tree.size }
  get (key: string): V | undefined { return this.tree.get(key) }
  has (key: string): boolean { return this.tree.has(key) }
  set (key: string, value: V): void { this.tree.set(key, value) }
  delete (key: string): boolean { return this.tree.delete(key) }
  /** The first pair at `key` (when `inclusive`) or after it. */
  pairFrom (key: string, inclusive: boolean): [string, V] | undefined {
    return inclusive ? this.tree.getPairOrNextHigher(key) : this.tree.nextHigherPair(key)
  }

  /**
   * Up to `limit` entries whose keys start with `prefix` and sort after
   * `startAfter` (and whose values pass `where`, when given), and whether
   * more such entries follow.
   */
  page (options: { prefix?: string, startAfter?: string, limit: number, where?: (value: V) => boolean }): { entries: Array<[string, V]>, isTruncated: boolean } {
    const prefix = options.prefix ?? ''
    let from = prefix
    let inclusive = true
    if (options.startAfter !== undefined && compareKeys(options.startAfter, prefix) >= 0) {
      from = options.startAfter
      inclusive = false
    }
    const entries: Array<[string, V]> = []
    let isTruncated = false
    let pair = inclusive ? this.tree.getPairOrNextHigher(from) : this.tree.nextHigherPair(from)
    while (pair !== undefined) {
      if (!pair[0].startsWith(prefix)) break
      if (options.where === undefined || options.where(pair[1])) {
        if (entries.length >= options.limit) { isTruncated = true; break }
        entries.push(pair)
      }
      pair = this.tree.nextHigherPair(pair[0])
    }
    return { entries, isTruncated }
  }

  values (): IterableIterator<V> { return this.tree.values() }
}
