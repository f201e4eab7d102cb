import * as fs from 'node:fs'

// Callback fs with plain numeric fds: on the hot paths (every PUT and GET) this
// avoids a FileHandle object per file, which in Node 20 costs more main-thread
// time than the system calls themselves.

export function openFd (path: string, flags: string | number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => { fs.open(path, flags, mode, (err, fd) => { if (err !== null) reject(err); else resolve(fd) }) })
}

export function closeFd (fd: number): Promise<void> {
  return new Promise((resolve, reject) => { fs.close(fd, err => { if (err !== null) reject(err); else resolve() }) })
}

export function fsyncFd (fd: number): Promise<void> {
  return new Promise((resolve, reject) => { fs.fsync(fd, err => { if (err !== null) reject(err); else resolve() }) })
}

export function fstatFd (fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => { fs.fstat(fd, (err, s) => { if (err !== null) reject(err); else resolve(s) }) })
}

/** Writes all of `data` at the current position. */
export async function writeAll (fd: number, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.byteLength) {
    offset += await new Promise<number>((resolve, reject) => {
      fs.write(fd, data, offset, data.byteLength - offset, null, (err, n) => { if (err !== null) reject(err); else resolve(n) })
    })
  }
}

export function readAt (fd: number, buffer: Uint8Array, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => { fs.read(fd, buffer, 0, length, position, (err, n) => { if (err !== null) reject(err); else resolve(n) }) })
}

/** Writes several buffers in one system call (looping if the kernel takes fewer bytes). */
export async function writevAll (fd: number, chunks: Uint8Array[]): Promise<void> {
  let pending = chunks
  while (pending.length > 0) {
    const n = await new Promise<number>((resolve, reject) => {
      fs.writev(fd, pending as NodeJS.ArrayBufferView[], null, (err, written) => { if (err !== null) reject(err); else resolve(written) })
    })
    let left = n
    const rest: Uint8Array[] = []
    for (const c of pending) {
      if (left >= c.byteLength) { left -= c.byteLength; continue }
      rest.push(left > 0 ? c.subarray(left) : c)
      left = 0
    }
    pending = rest
  }
}
