/**
 * S3 lists keys in UTF-8 binary order. JavaScript compares strings by UTF-16
 * code unit, which differs for characters above U+FFFF (surrogate pairs sort
 * below U+E000..U+FFFF in UTF-16 but above them in UTF-8). This maps each code
 * unit so that comparing the mapped units gives code point (= UTF-8) order.
 */
function fixup (c: number): number {
  if (c >= 0xe000) return c - 0x800
  if (c >= 0xd800) return c + 0x2000
  return c
}

/** Compares two keys in UTF-8 byte order: negative, 0 or positive. */
export function compareKeys (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return x < 0xd800 && y < 0xd800 ? x - y : fixup(x) - fixup(y)
  }
  return a.length - b.length
}

// A valid key is at most 1024 UTF-8 bytes, so no key can hold 256 copies of
// the highest code point (4 bytes each) after any non-empty prefix.
const TOP = '\u{10FFFF}'.repeat(256)

/**
 * A string that sorts after every valid key starting with `prefix` and before
 * every key that does not, if it sorts after `prefix`: use it as a start-after
 * to skip a whole common prefix in one step.
 */
export function prefixEnd (prefix: string): string {
  return prefix + TOP
}

/** Byte length of a string in UTF-8, without allocating. */
export function utf8Length (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) { n += 4; i++ } else n += 3
  }
  return n
}
