import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Keyring } from '../core/wire/keyring.js'
import { CliError } from './cli-error.js'
import { codeOf, renameInto, writeDurable } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'

/** The cluster key a node seals with, and where it came from (the banner says). */
export interface ClusterKey {
  /** The sealing key, base64. */
  base64: string
  /** S3MESH_CLUSTER_KEY, the data folder's file, or made now for a new cluster. */
  source: 'environment' | 'file' | 'generated'
  /** The data folder's file for it (read, or written when generated). */
  file: string
}

/** The node's libp2p identity, kept in the data folder so a restart keeps its peer id. */
export async function peerKey (layout: DiskLayout): Promise<PrivateKey> {
  const file = join(layout.system, 'peer-key')
  try {
    return privateKeyFromProtobuf(await readFile(file))
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw new CliError(`${file} is damaged (${String(err)}): delete it to give this node a new identity.`)
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = layout.tmpPath('peer-key')
  await writeDurable(tmp, privateKeyToProtobuf(key), true, 0o600)
  await renameInto(tmp, file)
  return key
}

/**
 * The cluster keys, as memberlist's keyring takes them: S3MESH_CLUSTER_KEY
 * (base64 of 16, 24 or 32 bytes; several separated by commas, the first
 * sealing and all opening, so keys rotate without downtime as memberlist's do:
 * "old,new" everywhere, then "new,old" everywhere, then "new") when set; else the key saved in the data
 * folder; else, for the first node of a new cluster, a new one saved 0600.
 */
export async function clusterKeys (layout: DiskLayout, env: NodeJS.ProcessEnv, joining: boolean): Promise<ClusterKey & { raw: Uint8Array[] }> {
  const file = join(layout.system, 'cluster-key')
  const parse = (text: string, where: string): Uint8Array => {
    const raw = Buffer.from(text.trim(), 'base64')
    if (![16, 24, 32].includes(raw.length) || raw.toString('base64') !== text.trim()) {
      throw new CliError(`${where} must be base64 of 16, 24 or 32 bytes (as the first node prints it), or several separated by commas.`, 2)
    }
    return new Uint8Array(raw)
  }
  if (env.S3MESH_CLUSTER_KEY !== undefined) {
    const texts = env.S3MESH_CLUSTER_KEY.split(',').map(k => k.trim()).filter(k => k !== '')
    if (texts.length === 0) throw new CliError('S3MESH_CLUSTER_KEY is empty.', 2)
    return { raw: texts.map(t => parse(t, 'S3MESH_CLUSTER_KEY')), base64: texts[0]!, source: 'environment', file }
  }
  try {
    const text = await readFile(file, 'utf8')
    return { raw: [parse(text, file)], base64: text.trim(), source: 'file', file }
  } catch (err) {
    if (err instanceof CliError || codeOf(err) !== 'ENOENT') throw err
  }
  if (joining) throw new CliError('This node joins an existing cluster: set S3MESH_CLUSTER_KEY to the cluster key the first node printed.', 2)
  const raw = Keyring.generateKey()
  const base64 = Buffer.from(raw).toString('base64')
  const tmp = layout.tmpPath('cluster-key')
  await writeDurable(tmp, base64 + '\n', true, 0o600)
  await renameInto(tmp, file)
  return { raw: [raw], base64, source: 'generated', file }
}
