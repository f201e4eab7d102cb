import { showSpread, type Spread } from './stats.js'

/** A markdown table; the first column left-aligned, the rest right-aligned (figures). */
export function table (header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map((_, i) => i === 0 ? '---' : '---:')), ...rows.map(line)].join('\n')
}

/** "0.66x (0.61-0.7)" for a ratio from repeated runs. */
export const times = (s: Spread): string => showSpread(s, 'x')
