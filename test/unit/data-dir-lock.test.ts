/**
 * The data folder's lock: one server per folder, decided in one step (two
 * started together cannot both win), and nothing left behind by a process
 * that died, whatever pid the pid file names.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { lockDataDir, type DataDirLockFiles } from '../../src/node/data-dir-lock.js'

async function withFolder (fn: (files: DataDirLockFiles, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-lock-'))
  try {
    await fn({ lockDb: join(dir, 'lock.db'), lockFile: join(dir, 'lock') }, dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const inUse = (err: Error): boolean => /in use by another s3mesh process/.test(err.message)

describe('the data folder lock', () => {
  it('lets exactly one of two servers started together take it, and names the owner to the other', async () => {
    await withFolder(async files => {
      const tries = await Promise.allSettled([lockDataDir(files, 'data'), lockDataDir(files, 'data')])
      const won = tries.filter(t => t.status === 'fulfilled')
      const lost = tries.filter(t => t.status === 'rejected')
      assert.equal(won.length, 1, 'one took the lock')
      assert.equal(lost.length, 1, 'the other was refused')
      assert.ok(inUse(lost[0]!.reason as Error), String(lost[0]!.reason))
      assert.match((lost[0]!.reason as Error).message, new RegExp(`\\(pid ${process.pid}\\)`))
      assert.equal(await readFile(files.lockFile, 'utf8'), String(process.pid))
      await won[0]!.value()
      assert.equal(existsSync(files.lockFile), false, 'the pid file goes with the lock')
      const again = await lockDataDir(files, 'data')
      await again()
    })
  })

  it('is not held by a pid file naming a live process that holds no lock (a pid reused after a crash), nor by a damaged lock file', async () => {
    await withFolder(async files => {
      // pid 1 runs on every machine: the old pid-file lock refused to start here.
      await writeFile(files.lockFile, '1')
      await writeFile(files.lockDb, 'not a database at all, and long enough to have a header: '.repeat(4))
      const release = await lockDataDir(files, 'data')
      assert.equal(await readFile(files.lockFile, 'utf8'), String(process.pid))
      await release()
    })
  })

  it('is let go by the kernel when its owner is killed', async () => {
    await withFolder(async files => {
      // Another process takes the lock as lockDataDir does, says so, and waits to be killed.
      const child = spawn(process.execPath, ['-e', `
        const { DatabaseSync } = require('node:sqlite')
        const db = new DatabaseSync(${JSON.stringify(files.lockDb)})
        db.exec('PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); DELETE FROM owner;')
        require('node:fs').writeFileSync(${JSON.stringify(files.lockFile)}, String(process.pid))
        process.stdout.write('locked\\n')
        setInterval(() => {}, 1000)
      `], { stdio: ['ignore', 'pipe', 'inherit'] })
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve() })
          child.once('exit', code => { reject(new Error(`the child exited with ${String(code)} before locking`)) })
        })
        await assert.rejects(lockDataDir(files, 'data'), (err: Error) => inUse(err) && err.message.includes(`(pid ${String(child.pid)})`))
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGKILL')
        await exited
        const release = await lockDataDir(files, 'data')
        await release()
      } finally {
        child.kill('SIGKILL')
      }
    })
  })
})
