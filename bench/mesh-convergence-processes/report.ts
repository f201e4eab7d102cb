/** The README's tables from bench/results/mesh-convergence-processes.json (see bench/figures.ts). */
import { convergenceTable } from '../lib/convergence-table.js'

export const tables = { rows: convergenceTable }
