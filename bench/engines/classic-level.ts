/**
 * Benchmark adapter for classic-level (LevelDB 1.23 through Node-API), the peer every Node user
 * already knows. Opened with buffer encodings, so keys and values pass to C++ untranscoded.
 *
 * Fastest APIs a Node user would call (and what the report prints):
 * - put:     `await db.put(key, value)` (sync false is its default): one threadpool round trip
 *            per write; LevelDB's own writer queue groups concurrent puts.
 * - batch:   `await db.batch([{ type: 'put', key, value }, ...])`: the array form, which skips
 *            the chained batch's per-op JS calls.
 * - get:     `await db.get(key)`: async, one threadpool round trip per read; the harness keeps
 *            CONCURRENCY (64) of them in flight, as a user maximizing throughput would.
 * - getSync: `db.getSync(key)` (classic-level >= 3), used by the readrandom-sync workload.
 * - seek:    one `db.iterator()` reused: `seek(target)` then `nextv(count)` (one round trip;
 *            seekrandom); a fresh `db.iterator({ gte, limit }).all()` per short scan (YCSB E).
 * - iterate: `db.iterator()` + `nextv(1000)`: the batch size classic-level's own next() uses.
 * Durability: `{ sync: false }` (its default) and `{ sync: true }` on put and batch.
 * Everything else is LevelDB's defaults (4 MiB write buffer, 8 MiB block cache, 4 KiB blocks,
 * snappy compression on, no bloom filter).
 */
import { ClassicLevel } from 'classic-level'
import { createRequire } from 'node:module'
import type { BenchCursor, BenchEngine, EngineFactory, EngineOpenOptions, Entry } from './types.js'

/** Entries per nextv() call: classic-level's own next() read-ahead size. */
const SCAN_CHUNK_ENTRIES = 1000

type Db = ClassicLevel<Buffer, Buffer>

class ClassicLevelEngine implements BenchEngine {
  readonly readsAreSync = false

  constructor(private readonly db: Db, private readonly sync: boolean) {}

  put(key: Buffer, value: Buffer): Promise<void> {
    return this.db.put(key, value, { sync: this.sync })
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void> {
    const ops = entries.map(([key, value]) => ({ type: 'put' as const, key, value }))
    return this.db.batch(ops, { sync: this.sync })
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key)
  }

  getSync(key: Buffer): Buffer | undefined {
    return this.db.getSync(key)
  }

  range(start: Buffer, count: number): Promise<Entry[]> {
    return this.db.iterator({ gte: start, limit: count }).all()
  }

  cursor(_readAheadBytes: number): BenchCursor {
    const iterator = this.db.iterator()
    return {
      seek(target: Buffer, count: number): Promise<Entry[]> {
        iterator.seek(target)
        return iterator.nextv(count)
      },
      close(): Promise<void> {
        return iterator.close()
      },
    }
  }

  async scan(visit: (key: Buffer, value: Buffer) => void): Promise<number> {
    const iterator = this.db.iterator()
    let count = 0
    try {
      for (;;) {
        const chunk = await iterator.nextv(SCAN_CHUNK_ENTRIES)
        if (chunk.length === 0) break
        for (const [key, value] of chunk) visit(key, value)
        count += chunk.length
      }
    } finally {
      await iterator.close()
    }
    return count
  }

  close(): Promise<void> {
    return this.db.close()
  }
}

function classicLevelVersion(): string {
  try {
    const require = createRequire(import.meta.url)
    const manifest = require('classic-level/package.json') as { version?: string }
    return `classic-level@${manifest.version ?? '?'} (LevelDB)`
  } catch {
    return 'classic-level (LevelDB)'
  }
}

export const classicLevelEngine: EngineFactory = {
  name: 'classic-level',
  version: classicLevelVersion(),
  apis: {
    put: 'await db.put(k, v)',
    batch: "await db.batch([{ type: 'put', k, v }, ...])",
    get: 'await db.get(k) (async)',
    getSync: 'db.getSync(k)',
    iterate: 'db.iterator().nextv(1000)',
    seek: 'db.iterator() reused: seek(k) + nextv(n); YCSB E: db.iterator({ gte, limit }).all()',
    durability: '{ sync: false } / { sync: true }',
  },
  hasSyncGet: true,
  async open(dir: string, options: EngineOpenOptions): Promise<BenchEngine> {
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.open()
    return new ClassicLevelEngine(db, options.sync)
  },
}
