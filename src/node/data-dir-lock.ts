import { open, readFile, unlink } from 'node:fs/promises'
import { CliError } from './cli-error.js'
import { codeOf } from './disk-files.js'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return codeOf(err) === 'EPERM'
  }
}

/**
 * One server per data folder: two processes committing into the same folder
 * would break each other's index. The lock file holds the owner's pid; a lock
 * left by a process that no longer runs is taken over.
 */
export async function lockDataDir (lockFile: string, dataDir: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockFile, 'wx')
      await fh.writeFile(String(process.pid))
      await fh.close()
      return async () => { await unlink(lockFile).catch(() => {}) }
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw err
      const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(`The data folder ${dataDir} is in use by another s3mesh process (pid ${pid}). Stop it, or start this one with another folder.`)
      }
      await unlink(lockFile).catch(() => {})
    }
  }
  throw new CliError(`Could not lock the data folder ${dataDir}; check ${lockFile}.`)
}
