/**
 * Benchmark adapter for lmdb (npm `lmdb`, lmdb-js: LMDB through Node-API). A B+tree in a memory
 * map: reads are synchronous and copy out of the map; writes are queued to a write thread and
 * committed in transactions (every write issued in one event turn shares one transaction).
 * Opened with binary keys and values (no msgpack, no ordered-binary key transcoding).
 *
 * Fastest APIs a Node user would call (and what the report prints):
 * - put:     `await db.put(key, value)`: with one put outstanding, one transaction per put.
 * - batch:   `await db.batch(() => { db.put(k, v) ... })`: one transaction.
 * - get:     `db.get(key)`: SYNCHRONOUS, a copy out of the map (getBinaryFast would return a
 *            reused buffer, which the adapter contract rules out).
 * - seek:    `db.getRange({ start, limit })` per seek (lmdb-js has no reusable public cursor;
 *            getRange is its range API, synchronous).
 * - iterate: `for (const { key, value } of db.getRange())`, synchronous.
 * Durability: unsynced is `noSync: true` (commits write the map, no fsync, like the LSM peers'
 * sync: false); synced is `overlappingSync: false`, so a write resolves only after its
 * transaction's fsync (the default overlappingSync resolves at commit and syncs later, which
 * would not be like for like with a synced batch). Everything else is lmdb-js's defaults (no
 * compression, no cache, automatic map growth).
 */
import { createRequire } from 'node:module'
import { open, type RootDatabase } from 'lmdb'
import { SCAN_YIELD_ENTRIES, yieldToEventLoop, type BenchCursor, type BenchEngine, type EngineFactory, type EngineOpenOptions, type Entry } from './types.js'

type Db = RootDatabase<Buffer, Buffer>

function take(db: Db, start: Buffer, count: number): Entry[] {
  const out: Entry[] = []
  for (const { key, value } of db.getRange({ start, limit: count })) out.push([key, value])
  return out
}

class LmdbEngine implements BenchEngine {
  readonly readsAreSync = true

  constructor(private readonly db: Db) {}

  async put(key: Buffer, value: Buffer): Promise<void> {
    await this.db.put(key, value)
  }

  async batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void> {
    await this.db.batch(() => {
      for (const [key, value] of entries) void this.db.put(key, value)
    })
  }

  get(key: Buffer): Buffer | undefined {
    return this.db.get(key)
  }

  range(start: Buffer, count: number): Entry[] {
    return take(this.db, start, count)
  }

  cursor(_readAheadBytes: number): BenchCursor {
    const db = this.db
    return {
      seek: (target: Buffer, count: number): Entry[] => take(db, target, count),
      close: (): void => {},
    }
  }

  async scan(visit: (key: Buffer, value: Buffer) => void): Promise<number> {
    let count = 0
    for (const { key, value } of this.db.getRange()) {
      visit(key, value)
      if (++count % SCAN_YIELD_ENTRIES === 0) await yieldToEventLoop()
    }
    return count
  }

  close(): Promise<void> {
    return this.db.close()
  }
}

function lmdbVersion(): string {
  try {
    // lmdb's "exports" hides package.json: read it next to the resolved entry point
    const require = createRequire(import.meta.url)
    const entry = require.resolve('lmdb')
    const manifest = require(entry.replace(/dist[/\\]index\.cjs$/, 'package.json')) as { version?: string }
    return `lmdb@${manifest.version ?? '?'} (LMDB)`
  } catch {
    return 'lmdb (LMDB)'
  }
}

export const lmdbEngine: EngineFactory = {
  name: 'lmdb',
  version: lmdbVersion(),
  apis: {
    put: 'await db.put(k, v)',
    batch: 'await db.batch(() => db.put(k, v)...)',
    get: 'db.get(k) (sync)',
    iterate: 'db.getRange() (sync)',
    seek: 'db.getRange({ start, limit }) per seek (sync)',
    durability: 'noSync: true / overlappingSync: false',
  },
  hasSyncGet: true,
  async open(dir: string, options: EngineOpenOptions): Promise<BenchEngine> {
    const db = open<Buffer, Buffer>({
      path: dir,
      keyEncoding: 'binary',
      encoding: 'binary',
      ...(options.sync ? { overlappingSync: false } : { noSync: true }),
    })
    return new LmdbEngine(db)
  },
}
