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
      assert.equal(await readFile(files.lockFile, 'utf8'), String(process.pid))
      await assert.rejects(lockDataDir(files, 'data'), (err: Error) => inUse(err) && err.message.includes(`(pid ${process.pid})`), 'the owner is named')
      await won[0]!.value()
      assert.equal(existsSync(files.lockFile), false, 'the pid file goes with the lock')
      const again = await lockDataDir(files, 'data')
      await again()
    })
  })

  it('is not held by a pid file naming a live process that holds no lock (a pid reused after a crash), nor by a damaged lock file', async () => {
    await withFolder(async files => {
      // pid 1 runs on every machine: the pid-file lock refused to start here.
      await writeFile(files.lockFile, '1')
      await writeFile(files.lockDb, 'not a database at all, and long enough to have a header: '.repeat(4))
      const release = await lockDataDir(files, 'data')
      assert.equal(await readFile(files.lockFile, 'utf8'), String(process.pid))
      await release()
    })
  })

  it('on a folder an older release ran (a pid file, no lock.db), is refused while that pid lives, and taken when it does not', async () => {
    await withFolder(async files => {
      await writeFile(files.lockFile, '1')
      await assert.rejects(lockDataDir(files, 'data'), (err: Error) => inUse(err) && err.message.includes('(pid 1)'))
      assert.equal(existsSync(files.lockDb), false, 'the next start asks the pid file again')
      assert.equal(await readFile(files.lockFile, 'utf8'), '1', 'the older release\'s pid file is left as it was')
      // A pid that no process has (above the kernel's pid_max).
      await writeFile(files.lockFile, String(2 ** 22 + 1))
      const release = await lockDataDir(files, 'data')
      await release()
    })
  })

  it('lets exactly one of two server processes started at the same moment take it', async () => {
    await withFolder(async (files, dir) => {
      const module = new URL('../../src/node/data-dir-lock.ts', import.meta.url).href
      const go = join(dir, 'go')
      // Each child waits for the go file, then tries to lock, says how it went, and keeps what it got for longer than a
      // start waits for the lock (2 s).
      const child = (): Promise<string> => new Promise((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '-e', `
          const { existsSync } = await import('node:fs')
          const { lockDataDir } = await import(${JSON.stringify(module)})
          while (!existsSync(${JSON.stringify(go)})) await new Promise(r => setTimeout(r, 2))
          try { await lockDataDir(${JSON.stringify(files)}, 'data'); process.stdout.write('locked') } catch (err) { process.stdout.write(String(err.message)) }
          await new Promise(r => setTimeout(r, 3000))
        `], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        c.stdout.on('data', (d: Buffer) => { out += d.toString() })
        c.once('exit', () => { resolve(out) })
        c.once('error', reject)
      })
      for (let round = 0; round < 3; round++) {
        await rm(go, { force: true })
        const both = Promise.all([child(), child()])
        // Both children up and polling before the go.
        await new Promise(resolve => setTimeout(resolve, 3000))
        await writeFile(go, '')
        const outs = await both
        assert.equal(outs.filter(o => o === 'locked').length, 1, `round ${round}: ${outs.join(' | ')}`)
        assert.equal(outs.filter(o => /in use by another s3mesh process/.test(o)).length, 1, `round ${round}: ${outs.join(' | ')}`)
      }
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
