import { lstat } from 'node:fs/promises'
import mime from 'mime'
import { toHex, type Hashes } from '../core/hashes.js'
import type { MetaRecord } from './disk-records.js'
import { closeFd, fstatFd, openFd, readAt } from './fd.js'

/**
 * Files that people put into a bucket folder themselves (`cp cat.jpg data/photos/`)
 * are objects too, as in MinIO's FS mode: this reads one and makes its
 * metadata. Only regular files are taken: a symlink could point anywhere.
 */
export async function describeFile (path: string, key: string, hashes: Hashes): Promise<MetaRecord | undefined> {
  const link = await lstat(path).catch(() => undefined)
  if (link === undefined || !link.isFile()) return undefined
  const fd = await openFd(path, 'r')
  try {
    const md5 = hashes.create('md5')
    const sha256 = hashes.create('sha256')
    const buffer = Buffer.allocUnsafe(1024 * 1024)
    let position = 0
    for (;;) {
      const n = await readAt(fd, buffer, buffer.length, position)
      if (n === 0) break
      md5.update(buffer.subarray(0, n))
      sha256.update(buffer.subarray(0, n))
      position += n
    }
    const s = await fstatFd(fd)
    if (s.size !== position) return undefined
    const contentType = mime.getType(key) ?? undefined
    return {
      v: 1, key, size: s.size, etag: toHex(md5.digest()), sha256: toHex(sha256.digest()), lastModified: Math.floor(s.mtimeMs),
      metadata: contentType === undefined ? { user: {} } : { contentType, user: {} }, tags: {}, hidden: false, ino: s.ino, mtimeMs: s.mtimeMs,
    }
  } finally {
    await closeFd(fd)
  }
}
