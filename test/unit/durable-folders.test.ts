import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DurableFolders } from '../../src/node/durable-folders.js'
import { GroupFsync } from '../../src/node/group-fsync.js'

/** A DurableFolders over a fresh folder, its fsyncs recorded (relative to the root); `failing` folders' fsyncs fail. */
async function withFolders (fn: (f: DurableFolders, root: string, synced: string[], failing: Set<string>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-durable-'))
  const synced: string[] = []
  const failing = new Set<string>()
  const folders = new DurableFolders(root, new GroupFsync(async dir => {
    const name = dir === root ? '.' : dir.slice(root.length + 1)
    synced.push(name)
    if (failing.has(name)) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
  }))
  try { await fn(folders, root, synced, failing) } finally { await rm(root, { recursive: true, force: true }) }
}

describe('DurableFolders', () => {
  it('a rename that makes folders fsyncs the file\'s folder and each made one\'s parent, and leaves no note', async () => {
    await withFolders(async (folders, root, synced) => {
      await mkdir(join(root, 'b'))
      await writeFile(join(root, 't1'), 'x')
      const made = await folders.rename(join(root, 't1'), join(root, 'b/x/y/f'))
      assert.deepEqual(made.made.map(d => d.slice(root.length + 1)), ['b/x/y', 'b/x'])
      await folders.sync(made.dir, made)
      assert.deepEqual(synced, ['b/x/y', 'b/x', 'b'])
      assert.deepEqual(folders.unsureFolders(), [])
    })
  })

  it('a write that fails after making folders fsyncs their parents (another write may count on them) and leaves no note', async () => {
    await withFolders(async (folders, root, synced) => {
      await mkdir(join(root, 'b'))
      // The source is missing: the rename fails after mkdir made b/x/.
      await assert.rejects(folders.rename(join(root, 'missing'), join(root, 'b/x/f')), (err: Error & { code?: string }) => err.code === 'ENOENT')
      assert.deepEqual(synced, ['b'], 'b/x/ is there: its entry in b/ fsynced')
      assert.deepEqual(folders.unsureFolders(), [])
    })
  })

  it('a mkdir that fails (a file in the way) leaves no note', async () => {
    await withFolders(async (folders, root) => {
      await mkdir(join(root, 'b'))
      await writeFile(join(root, 'b/file'), 'x')
      await assert.rejects(folders.make(join(root, 'b/file/sub')))
      assert.deepEqual(folders.unsureFolders(), [])
    })
  })

  it('a folder whose parent\'s fsync failed stays unsure until a later write into it fsyncs that parent itself', async () => {
    await withFolders(async (folders, root, synced, failing) => {
      await mkdir(join(root, 'b'))
      failing.add('b')
      await writeFile(join(root, 't1'), 'x')
      const made = await folders.rename(join(root, 't1'), join(root, 'b/x/f'))
      await assert.rejects(folders.sync(made.dir, made), /EIO/)
      await folders.abandon(made)
      assert.deepEqual(folders.unsureFolders(), [join(root, 'b/x')], 'still not known durable')
      failing.clear()
      synced.length = 0
      await writeFile(join(root, 't2'), 'x')
      const next = await folders.rename(join(root, 't2'), join(root, 'b/x/g'))
      assert.deepEqual(next.made, [], 'precondition: the second write made no folder')
      await folders.sync(next.dir, next)
      assert.deepEqual(synced, ['b/x', 'b'])
      assert.deepEqual(folders.unsureFolders(), [], 'durable now')
      synced.length = 0
      await writeFile(join(root, 't3'), 'x')
      await folders.sync(join(root, 'b/x'), await folders.rename(join(root, 't3'), join(root, 'b/x/h')))
      assert.deepEqual(synced, ['b/x'], 'so the next write fsyncs its own folder alone')
    })
  })

  it('a start-up\'s syncPath fsyncs the folder and each above it, up to the data folder, from the nearest one there', async () => {
    await withFolders(async (folders, root, synced) => {
      await mkdir(join(root, 'b/x'), { recursive: true })
      await folders.syncPath(join(root, 'b/x/gone/deeper'))
      assert.deepEqual(synced, ['b/x', 'b', '.'])
      synced.length = 0
      await folders.syncPath(root)
      assert.deepEqual(synced, ['.'], 'the data folder itself, once')
    })
  })

  it('with fsync off, notes and fsyncs nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-durable-'))
    try {
      const folders = new DurableFolders(root, undefined)
      await writeFile(join(root, 't1'), 'x')
      const made = await folders.rename(join(root, 't1'), join(root, 'b/x/f'))
      assert.deepEqual(folders.unsureFolders(), [])
      await folders.sync(made.dir, made)
    } finally { await rm(root, { recursive: true, force: true }) }
  })
})
