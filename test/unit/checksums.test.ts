/** Multipart checksums made from parts' (core/checksums.ts) against the same checksums computed over the whole bytes. */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { checksumPlan, multipartChecksum, partRange, partSizesOf, type ChecksumAlgorithm } from '../../src/core/checksums.js'
import { isS3Error } from '../../src/core/errors.js'
import { nodeHashes } from '../../src/node/node-hashes.js'

async function digest (algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<Buffer> {
  if (algorithm === 'CRC64NVME') {
    const c = new Crc64Nvme()
    c.update(data)
    return Buffer.from(await c.digest())
  }
  if (algorithm === 'SHA1' || algorithm === 'SHA256') return createHash(algorithm.toLowerCase()).update(data).digest()
  const h = nodeHashes.create(algorithm.toLowerCase() as 'crc32' | 'crc32c')
  h.update(data)
  return Buffer.from(h.digest())
}

/** Parts of uneven sizes, an empty last one included: a combine that ignores a length or a zero fails here. */
const SIZES = [5 * 1024 * 1024, 1, 777_777, 65_536, 0]

describe('multipart checksums', () => {
  const data = randomBytes(SIZES.reduce((a, b) => a + b, 0))
  const parts = SIZES.map((size, i) => ({ partNumber: i + 1, size, bytes: data.subarray(SIZES.slice(0, i).reduce((a, b) => a + b, 0)).subarray(0, size) }))

  for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    it(`FULL_OBJECT ${algorithm} from the parts' CRCs equals the CRC of the whole object`, async () => {
      const withSums = await Promise.all(parts.map(async p => ({ ...p, checksum: { algorithm, value: (await digest(algorithm, p.bytes)).toString('base64') } })))
      const made = await multipartChecksum(nodeHashes, { algorithm, type: 'FULL_OBJECT' }, withSums)
      assert.deepEqual(made, { algorithm, type: 'FULL_OBJECT', value: (await digest(algorithm, data)).toString('base64') })
    })
  }

  for (const algorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
    it(`COMPOSITE ${algorithm} is the checksum of the parts' digests, then -N`, async () => {
      const sums = await Promise.all(parts.map(async p => await digest(algorithm, p.bytes)))
      const made = await multipartChecksum(nodeHashes, { algorithm, type: 'COMPOSITE' }, parts.map((p, i) => ({ ...p, checksum: { algorithm, value: sums[i]!.toString('base64') } })))
      assert.equal(made.value, `${(await digest(algorithm, Buffer.concat(sums))).toString('base64')}-${parts.length}`)
    })
  }

  it('a part without the upload\'s checksum is refused (InvalidRequest)', async () => {
    const crc = (await digest('CRC32', parts[0]!.bytes)).toString('base64')
    await assert.rejects(multipartChecksum(nodeHashes, { algorithm: 'CRC32', type: 'COMPOSITE' }, [{ ...parts[0]!, checksum: { algorithm: 'CRC32', value: crc } }, parts[1]!]), err => isS3Error(err, 'InvalidRequest'))
    await assert.rejects(multipartChecksum(nodeHashes, { algorithm: 'CRC32', type: 'COMPOSITE' }, [{ ...parts[0]!, checksum: { algorithm: 'CRC32C', value: crc } }]), err => isS3Error(err, 'InvalidRequest'))
  })

  it('the algorithm and type a CreateMultipartUpload may name, as S3 allows them', () => {
    assert.deepEqual(checksumPlan('crc32', null), { algorithm: 'CRC32', type: 'COMPOSITE' })
    assert.deepEqual(checksumPlan('CRC64NVME', null), { algorithm: 'CRC64NVME', type: 'FULL_OBJECT' })
    assert.deepEqual(checksumPlan('CRC32C', 'FULL_OBJECT'), { algorithm: 'CRC32C', type: 'FULL_OBJECT' })
    assert.equal(checksumPlan(null, null), undefined)
    for (const [a, t] of [['SHA256', 'FULL_OBJECT'], ['CRC64NVME', 'COMPOSITE'], ['MD5', null], [null, 'COMPOSITE'], ['CRC32', 'PARTIAL']] as const) {
      assert.throws(() => checksumPlan(a, t), err => isS3Error(err, 'InvalidRequest'), `${a} ${t}`)
    }
  })

  it('part sizes kept as runs give each part\'s range', () => {
    const runs = partSizesOf([8, 8, 8, 3])
    assert.deepEqual(runs, [[8, 3], [3, 1]])
    assert.deepEqual(partRange(runs, 1), { start: 0, end: 7, size: 8 })
    assert.deepEqual(partRange(runs, 3), { start: 16, end: 23, size: 8 })
    assert.deepEqual(partRange(runs, 4), { start: 24, end: 26, size: 3 })
    assert.equal(partRange(runs, 5), undefined)
    assert.deepEqual(partSizesOf(Array.from({ length: 10_000 }, (_, i) => i === 9_999 ? 1 : 5)), [[5, 9_999], [1, 1]], '10,000 parts in two runs')
  })
})
