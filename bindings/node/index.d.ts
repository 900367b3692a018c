// Types for shmkv's Node.js addon (see README.md).

/** A key or value: a string (stored as UTF-8), a Buffer, Uint8Array or other ArrayBufferView (its bytes). */
export type Bytes = string | Buffer | Uint8Array | ArrayBufferView

export interface OpenOptions {
  /** Create the table if it does not exist (default true). */
  create?: boolean
  /** With create: fail with EEXIST if it exists. */
  exclusive?: boolean
  /** Attach read-only: every write throws EROFS. */
  readonly?: boolean
  /** A new table is a cache: writes evict instead of failing (needs maxBytes). */
  cache?: boolean
  /** A new table counts hits and misses (stats()). */
  stats?: boolean
  /** Most bytes the table may use: 0 (the file system's limit) or 256 KiB to 2 TiB. */
  maxBytes?: number | bigint
  /** Sizing hint for a new table's index. */
  expectedKeys?: number
  /** Permission bits of a new file (default 0o600). */
  mode?: number
}

export interface TtlOptions {
  /** Lifetime in ms (0, the default: never expires). */
  ttl?: number
}

export interface SetOptions extends TtlOptions {
  /** Write only if the key is absent. */
  ifAbsent?: boolean
  /** Write only if the key is present. */
  ifPresent?: boolean
  /** Write only if the key holds exactly this value now. */
  ifEqual?: Bytes
  /** Keep the pair's current lifetime (not with ttl). */
  keepTtl?: boolean
}

export interface GetOrSetOptions extends TtlOptions {
  /** How long a lease lasts before it lapses, ms (0, the default: 10 s). */
  leaseMs?: number
  /** How long to wait for another caller's value before computing it unstored, ms (default 5000). */
  timeout?: number
}

export interface Stats {
  keys: number
  liveBytes: number
  usedBytes: number
  maxBytes: number
  fileBytes: number
  shards: number
  buckets: number
  overflowBuckets: number
  indexBytes: number
  logBytes: number
  garbageBytes: number
  freeBytes: number
  loadFactor: number
  puts: number
  dels: number
  splits: number
  runsCleaned: number
  lockWaits: number
  lockRecoveries: number
  readStats: boolean
  hits: number
  misses: number
  cache: boolean
  evictions: number
  expirations: number
  leasesGranted: number
  leasesFilled: number
  leasesVoided: number
}

/** What a failed shmkv call throws, like Node's own fs errors. */
export interface ShmkvError extends Error {
  /** The errno name: 'ENOENT', 'ENOSPC', 'EROFS', ... */
  code: string
  /** The negative errno value. */
  errno: number
  /** The C function that failed: 'shmkv_open', 'shmkv_put_ex', ... */
  syscall: string
  /** The table's name, for open and unlink. */
  path?: string
  /** setMany: the position of the pair that failed. */
  index?: number
}

export class Table implements Iterable<[Buffer, Buffer]> {
  constructor (name: string, options?: OpenOptions)
  /** Removes the table's file; false if there was none. */
  static unlink (name: string): boolean

  readonly name: string
  readonly readonly: boolean
  /** Number of live pairs. */
  readonly size: number

  close (): void
  get (key: Bytes): Buffer | undefined
  getString (key: Bytes): string | undefined
  has (key: Bytes): boolean
  /** true if written; false if a condition failed. */
  set (key: Bytes, value: Bytes, options?: SetOptions): boolean
  add (key: Bytes, value: Bytes, options?: TtlOptions): boolean
  replace (key: Bytes, value: Bytes, options?: TtlOptions): boolean
  delete (key: Bytes): boolean
  /** The new value: a number while it is a safe integer, a bigint beyond. */
  incr (key: Bytes, delta?: number | bigint, options?: TtlOptions): number | bigint
  append (key: Bytes, value: Bytes): void
  /** The value, deleted in the same step. */
  take (key: Bytes): Buffer | undefined
  getMany (keys: Iterable<Bytes>): Array<Buffer | undefined>
  setMany (entries: Iterable<readonly [Bytes, Bytes]>, options?: TtlOptions): number
  setMany (entries: Record<string, Bytes>, options?: TtlOptions): number
  /** ms left; 0 if the pair never expires; undefined if absent. */
  ttl (key: Bytes): number | undefined
  /** false if the key is absent. */
  expire (key: Bytes, ttl: number): boolean
  clear (): void
  stats (): Stats
  /** The problems the integrity checker finds; [] when the table is sound. */
  check (): string[]
  getOrSet (key: Bytes, compute: (key: Bytes) => Bytes, options?: GetOrSetOptions): Buffer
  getOrSetAsync (key: Bytes, compute: (key: Bytes) => Bytes | Promise<Bytes>, options?: GetOrSetOptions): Promise<Buffer>
  entries (): IterableIterator<[Buffer, Buffer]>
  keys (): IterableIterator<Buffer>
  values (): IterableIterator<Buffer>
  [Symbol.iterator] (): IterableIterator<[Buffer, Buffer]>
}

export const KEY_MAX: number
export const VAL_MAX: number
export const TTL_MAX: number
export const MIN_BYTES: number
export const version: string
