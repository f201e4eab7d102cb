import { bytesEqual } from '../hashes.js'
import { DroppedMessageError } from './strict-cbor.js'

const IV_BYTES = 12
const SEALED_VERSION = 1
const encoder = new TextEncoder()

/**
 * AES-GCM as a platform provides it. WebCrypto runs everywhere but every call
 * is an asynchronous job on a thread pool, which for small messages costs more
 * than the cipher: Node passes one over node:crypto instead (nodeAead). Same
 * algorithm, same bytes on the wire.
 */
export interface Aead {
  /** A key ready for use; `raw` is 16, 24 or 32 bytes. */
  importKey (raw: Uint8Array): Promise<unknown>
  /** Ciphertext followed by the 16-byte tag. */
  seal (key: unknown, iv: Uint8Array, plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> | Uint8Array
  /** The plaintext; throws when the tag does not verify under `key`. */
  open (key: unknown, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array> | Uint8Array
}

export const webCryptoAead: Aead = {
  async importKey (raw) { return await crypto.subtle.importKey('raw', plainBuffer(raw), 'AES-GCM', false, ['encrypt', 'decrypt']) },
  async seal (key, iv, plain, aad) {
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: plainBuffer(iv), additionalData: plainBuffer(aad) }, key as CryptoKey, plainBuffer(plain)))
  },
  async open (key, iv, sealed, aad) {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: plainBuffer(iv), additionalData: plainBuffer(aad) }, key as CryptoKey, plainBuffer(sealed)))
  },
}

/**
 * The cluster key, like memberlist's keyring: every membership message is
 * sealed with AES-GCM under the primary key (WebCrypto, so browsers and edge
 * runtimes can do it too); any key on the ring opens messages, so keys can be
 * rotated without downtime: add the new key everywhere, make it primary
 * everywhere, then remove the old one. The cluster name is authenticated data:
 * a message sealed for another cluster does not open.
 */
export class Keyring {
  private constructor (private keys: Array<{ raw: Uint8Array, key: unknown }>, private readonly label: Uint8Array, private readonly aead: Aead) {}

  /**
   * @param keys 16, 24 or 32 bytes each (AES-128/192/256); the first is primary.
   * @param aead the platform's AES-GCM; WebCrypto unless given.
   */
  static async create (keys: Uint8Array[], clusterName: string, aead: Aead = webCryptoAead): Promise<Keyring> {
    if (keys.length === 0) throw new RangeError('A keyring needs at least one key.')
    return new Keyring(await Promise.all(keys.map(async k => await importKey(k, aead))), encoder.encode(clusterName), aead)
  }

  /** A new random 32-byte key. */
  static generateKey (): Uint8Array {
    return crypto.getRandomValues(new Uint8Array(32))
  }

  get primary (): Uint8Array { return this.keys[0]!.raw }

  async add (raw: Uint8Array): Promise<void> {
    if (this.keys.some(k => bytesEqual(k.raw, raw))) return
    this.keys.push(await importKey(raw, this.aead))
  }

  /** Makes an installed key the one new messages are sealed with. */
  use (raw: Uint8Array): void {
    const i = this.keys.findIndex(k => bytesEqual(k.raw, raw))
    if (i < 0) throw new RangeError('That key is not on the keyring: add it first.')
    this.keys.unshift(...this.keys.splice(i, 1))
  }

  remove (raw: Uint8Array): void {
    if (bytesEqual(this.primary, raw)) throw new RangeError('The primary key cannot be removed: make another key primary first.')
    this.keys = this.keys.filter(k => !bytesEqual(k.raw, raw))
  }

  /** version (1 byte) | IV (12) | AES-GCM ciphertext and tag */
  async seal (plain: Uint8Array): Promise<Uint8Array> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
    const sealed = await this.aead.seal(this.keys[0]!.key, iv, plain, this.label)
    const out = new Uint8Array(1 + IV_BYTES + sealed.byteLength)
    out[0] = SEALED_VERSION
    out.set(iv, 1)
    out.set(sealed, 1 + IV_BYTES)
    return out
  }

  /** Opens a sealed message with whichever key fits; DroppedMessageError when none does. */
  async open (data: Uint8Array): Promise<Uint8Array> {
    if (data.byteLength < 1 + IV_BYTES + 16 || data[0] !== SEALED_VERSION) throw new DroppedMessageError('not-sealed', 'The message is not sealed with a cluster key.')
    const iv = data.slice(1, 1 + IV_BYTES)
    const body = data.subarray(1 + IV_BYTES)
    for (const { key } of this.keys) {
      try {
        return await this.aead.open(key, iv, body, this.label)
      } catch {
        // Not this key: try the next.
      }
    }
    throw new DroppedMessageError('wrong-key', 'No key on the keyring opens the message (another cluster, or a peer without the key).')
  }
}

async function importKey (raw: Uint8Array, aead: Aead): Promise<{ raw: Uint8Array, key: unknown }> {
  if (![16, 24, 32].includes(raw.byteLength)) throw new RangeError(`A cluster key is 16, 24 or 32 bytes, not ${raw.byteLength}.`)
  const copy = raw.slice()
  return { raw: copy, key: await aead.importKey(copy) }
}

/** WebCrypto takes views of plain ArrayBuffers; copy the rare one backed by a SharedArrayBuffer. */
function plainBuffer (view: Uint8Array): Uint8Array<ArrayBuffer> {
  return view.buffer instanceof ArrayBuffer ? view as Uint8Array<ArrayBuffer> : new Uint8Array(view)
}
