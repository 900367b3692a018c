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

/** An end of a list. */
export type End = 'head' | 'tail'

export interface PushOptions {
  /** Where the element goes (default 'tail'). */
  end?: End
  /**
   * A bound (a positive integer): push only while the list would then hold at most maxLen elements,
   * else push nothing and give false (a bounded queue).  More values than maxLen throw RangeError.
   */
  maxLen?: number
}

/** The options of pushAsync and pushManyAsync: maxLen is needed. */
export interface BoundedPushOptions extends PushOptions {
  maxLen: number
}

export interface PopOptions {
  /** Where the element comes from (default 'head'). */
  end?: End
}

export interface MoveOptions {
  /** The end of the source list (default 'head'). */
  from?: End
  /** The end of the destination list (default 'tail'). */
  to?: End
}

export interface WaitOptions {
  /** How long to wait for an element (for room, in a bounded push), ms: 0 not at all; undefined (the default) or Infinity for ever. */
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
  /** Number of keys: live pairs, and lists. */
  readonly size: number

  close (): void
  get (key: Bytes): Buffer | undefined
  getString (key: Bytes): string | undefined
  /** true for a pair's key and a list's. */
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
  /** The pairs only: lists are not in these (see lists()). */
  entries (): IterableIterator<[Buffer, Buffer]>
  keys (): IterableIterator<Buffer>
  values (): IterableIterator<Buffer>
  [Symbol.iterator] (): IterableIterator<[Buffer, Buffer]>

  // Lists and queues.  A pair's key given to these, or a list's key to the
  // calls above, throws EMEDIUMTYPE; caches hold no lists (EOPNOTSUPP).
  /** Adds value at an end of the list at key (created if absent): true; with maxLen, false (nothing pushed) when the list is full.  Never waits. */
  push (key: Bytes, value: Bytes, options?: PushOptions): boolean
  /** Pushes the values in one step, all or nothing (at the head they end up reversed): true; with maxLen, false when they do not all fit.  Never waits. */
  pushMany (key: Bytes, values: Iterable<Bytes>, options?: PushOptions): boolean
  /** Removes and returns the element at an end; undefined if the list is empty or absent.  Never waits. */
  pop (key: Bytes, options?: PopOptions): Buffer | undefined
  /** Up to count elements from an end, in the order they come off it; [] if none.  Never waits. */
  popMany (key: Bytes, count: number, options?: PopOptions): Buffer[]
  /** Pops from src and pushes onto dst (which may be src) atomically; the element, or undefined.  Never waits. */
  move (src: Bytes, dst: Bytes, options?: MoveOptions): Buffer | undefined
  /** pop, waiting on the thread pool up to timeout for a push from any process. */
  popAsync (key: Bytes, options?: PopOptions & WaitOptions): Promise<Buffer | undefined>
  /** popMany, waiting as popAsync for the first element. */
  popManyAsync (key: Bytes, count: number, options?: PopOptions & WaitOptions): Promise<Buffer[]>
  /** move, waiting as popAsync for an element in src. */
  moveAsync (src: Bytes, dst: Bytes, options?: MoveOptions & WaitOptions): Promise<Buffer | undefined>
  /** A bounded push that waits on the thread pool up to timeout for a pop (from any process) to make room: true once pushed, false if the wait ended first. */
  pushAsync (key: Bytes, value: Bytes, options: BoundedPushOptions & WaitOptions): Promise<boolean>
  /** pushMany bounded by maxLen, waiting as pushAsync for room for all the values. */
  pushManyAsync (key: Bytes, values: Iterable<Bytes>, options: BoundedPushOptions & WaitOptions): Promise<boolean>
  /** Number of elements; 0 if absent. */
  llen (key: Bytes): number
  /** Elements start to stop, both included (negative: from the tail; default 0 to -1: all), not removed. */
  lrange (key: Bytes, start?: number, stop?: number): Buffer[]
  /** [key, elements] of every list, a piece of the table at a time. */
  lists (): IterableIterator<[Buffer, Buffer[]]>
}

/** What NearCache needs of its Redis client: an ioredis Redis or Cluster. */
export interface NearRedisClient {
  getBuffer (key: Buffer): Promise<Buffer | null>
  pipeline (): any
  options?: { keyPrefix?: string }
}

export interface NearCacheOptions {
  /** Longest lifetime of a value this reader fills, ms, on top of Redis's and the agent's --max-ttl (0, the default: none). */
  maxTtl?: number
  /** How long a fill's lease lasts, ms (default 1000): a Redis round trip. */
  leaseMs?: number
  /** How long a miss waits for another caller's fill of the key, ms (default 5). */
  waitMs?: number
}

/** Reads Redis through the host's near cache (docs/near-cache.md): the table the agent keeps, filled under leases. */
export class NearCache {
  constructor (table: Table, redis: NearRedisClient, options?: NearCacheOptions)
  /** The agent's record's key (a NUL byte, then "shmkv-redis:agent"). */
  static readonly AGENT_KEY: Buffer
  readonly maxTtl: number
  readonly leaseMs: number
  readonly waitMs: number
  /** Where the gets came from: the table; Redis, stored; Redis, not stored. */
  readonly counts: { table: number, filled: number, redis: number }
  /** Redis's value of key, like GET: null when Redis has none. */
  get (key: Bytes): Promise<Buffer | null>
}

export const KEY_MAX: number
export const VAL_MAX: number
export const TTL_MAX: number
export const MIN_BYTES: number
export const version: string
