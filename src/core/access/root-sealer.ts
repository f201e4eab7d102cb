/**
 * A key derived from the root secret, for what only holders of the root
 * credentials may read: the access state an edge worker copies from a node
 * (it holds every user's secret key) and the claims of a session token the
 * worker asks a node to open. Sealed this way they never cross the wire in
 * clear, over plain HTTP too; and a lone node's STS tokens are sealed with
 * it, as a mesh's are with the cluster key.
 */
import { digestOf, webHashes } from '../hashes.js'
import { Keyring, type Aead } from '../wire/keyring.js'

export type RootSealPurpose = 'access-state' | 'access-session' | 'sts'

export async function rootSealer (rootSecret: string, purpose: RootSealPurpose, aead?: Aead): Promise<Keyring> {
  return await Keyring.create([digestOf(webHashes, 'sha256', `s3mesh ${purpose}\n${rootSecret}`)], `s3mesh-${purpose}`, aead)
}
