import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { S3Error } from '../core/errors.js'
import { isVersionIdName } from '../core/versioning.js'

/** Name of the hidden folder inside the data folder; bucket names cannot start with a dot, so it never clashes. */
export const SYSTEM_DIR = '.s3mesh'
/**
 * Bumped when the on-disk layout changes incompatibly. 1 kept a JSON file per
 * object under `.s3mesh/meta`; 2 keeps metadata in `.s3mesh/meta.db` (a
 * format-1 folder is imported at the first start).
 */
export const FORMAT_VERSION = 2
/**
 * A bucket's name, checked before it becomes part of a path: every path
 * under the data folder is made from one, and a name that is not one plain
 * folder name (`..`, `a/b`, `.s3mesh`) would lead out of its bucket's folder.
 * The S3 handler and the mesh's codec refuse such names first (S3's rules
 * are stricter); this is the last guard.
 */
function named (bucket: string): string {
  if (bucket === '' || bucket.startsWith('.') || /[/\\\0]/.test(bucket)) throw new S3Error('InvalidBucketName', 'A bucket name must be one folder name.', { resource: bucket, detail: { BucketName: bucket } })
  return bucket
}

/** The longest file name Linux, macOS and Windows file systems all accept, in bytes. */
const NAME_MAX = 255

/**
 * Where everything lives under the data folder. Like MinIO's old FS mode, a
 * bucket is a folder and an object is a file at its key's path, so people can
 * `ls ./data/photos`. Keys that cannot be such a path (`dir/`, `a//b`, a
 * segment over 255 bytes, or a key whose path is taken by a folder or a file of
 * another key, as `a` and `a/b` are) keep their bytes under `.s3mesh/objects`;
 * their metadata says so, and the key is kept beside them (`<hash>.key`) for
 * a rebuild. Metadata for every object lives in `.s3mesh/meta.db` (MetaDb).
 */
export class DiskLayout {
  /** The data folder, absolute (a path within it starts with it, as DurableFolders needs). */
  readonly root: string
  readonly system: string
  readonly tmp: string
  readonly bucketsMeta: string

  constructor (root: string) {
    this.root = resolve(root)
    this.system = join(this.root, SYSTEM_DIR)
    this.tmp = join(this.system, 'tmp')
    this.bucketsMeta = join(this.system, 'buckets')
  }

  get formatFile (): string { return join(this.system, 'format.json') }
  /** The data folder's lock (see lockDataDir in data-dir-lock.ts). */
  get lockDb (): string { return join(this.system, 'lock.db') }
  /** The pid of the server holding the lock, for messages. */
  get lockFile (): string { return join(this.system, 'lock') }
  /** The mesh catalog (see CatalogDb). */
  get catalogDb (): string { return join(this.system, 'catalog.db') }
  /** Where older versions kept the mesh catalog (see CatalogJournal): imported into catalogDb once. */
  get catalogJournal (): string { return join(this.system, 'catalog.journal') }

  /** Object metadata (see MetaDb). */
  get metaDb (): string { return join(this.system, 'meta.db') }
  /** Format 1's per-object metadata files, imported into the database and removed at the first start of format 2. */
  get legacyMetaRoot (): string { return join(this.system, 'meta') }

  bucketDir (bucket: string): string { return join(this.root, named(bucket)) }
  bucketMeta (bucket: string): string { return join(this.bucketsMeta, `${named(bucket)}.json`) }
  legacyMetaDir (bucket: string): string { return join(this.legacyMetaRoot, named(bucket)) }
  hiddenDir (bucket: string): string { return join(this.system, 'objects', named(bucket)) }
  uploadsDir (bucket: string): string { return join(this.system, 'multipart', named(bucket)) }
  uploadDir (bucket: string, uploadId: string): string { return join(this.uploadsDir(bucket), uploadId) }

  private static keyHash (key: string): string {
    return createHash('sha256').update(key).digest('hex')
  }

  legacyMetaPath (bucket: string, key: string): string {
    const h = DiskLayout.keyHash(key)
    return join(this.legacyMetaDir(bucket), h.slice(0, 2), `${h}.json`)
  }

  hiddenPath (bucket: string, key: string): string {
    const h = DiskLayout.keyHash(key)
    return join(this.hiddenDir(bucket), h.slice(0, 2), h)
  }

  /** The key of a hidden object, kept beside its bytes. */
  hiddenKeyPath (bucket: string, key: string): string {
    return this.hiddenPath(bucket, key) + '.key'
  }

  /**
   * Where a key's versions that are not at its path live, in a bucket with
   * versioning set: `.s3mesh/versions/<bucket>/<hh>/<sha256(key)>/`, a file
   * per version named by its id (`null` for the null version), a small
   * `<id>.marker` per delete marker, and the key beside the folder
   * (`<sha256(key)>.key`) for a rebuild.
   */
  versionsDir (bucket: string, key: string): string {
    const h = DiskLayout.keyHash(key)
    return join(this.system, 'versions', named(bucket), h.slice(0, 2), h)
  }

  versionPath (bucket: string, key: string, versionId: string | undefined): string {
    return join(this.versionsDir(bucket, key), versionFile(versionId))
  }

  markerPath (bucket: string, key: string, versionId: string | undefined): string {
    return join(this.versionsDir(bucket, key), `${versionFile(versionId)}.marker`)
  }

  versionsKeyPath (bucket: string, key: string): string {
    return this.versionsDir(bucket, key) + '.key'
  }

  /** Every bucket's versions (removed with the bucket). */
  bucketVersionsDir (bucket: string): string { return join(this.system, 'versions', named(bucket)) }

  /** The visible file path for a key, or undefined when the key cannot be a plain path. */
  visiblePath (bucket: string, key: string): string | undefined {
    const segments = key.split('/')
    for (const s of segments) {
      if (s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > NAME_MAX) return undefined
    }
    return join(this.bucketDir(bucket), ...segments)
  }

  tmpPath (id: string, suffix = ''): string {
    return join(this.tmp, id + suffix)
  }
}

/** A version's file name: its id (`null` for the null version), which must be one s3mesh makes, so it names no other path. */
function versionFile (versionId: string | undefined): string {
  const id = versionId ?? 'null'
  if (!isVersionIdName(id)) throw new Error(`A version kept on disk is named by letters, digits, - and _ only, not ${JSON.stringify(id)}.`)
  return id
}
