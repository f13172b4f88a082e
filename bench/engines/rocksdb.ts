/**
 * Benchmark adapter for rocksdb (npm `rocksdb` 5.x: RocksDB through Node-API, the
 * abstract-leveldown 7 callback API; no promises, no synchronous read). Used as its README shows,
 * with buffer keys and values (no transcoding), each callback wrapped in one promise.
 *
 * Fastest APIs a Node user would call (and what the report prints):
 * - put:     `db.put(key, value, { sync }, cb)`: one threadpool round trip per write.
 * - batch:   `db.batch([{ type: 'put', key, value }, ...], { sync }, cb)`: the array form, one
 *            native call for the whole batch (the chained form makes one per op).
 * - get:     `db.get(key, { asBuffer: true }, cb)`: async (no sync get exists), so the harness
 *            keeps CONCURRENCY (64) in flight; an absent key is a 'NotFound' error.
 * - seek:    one `db.iterator({ highWaterMark })` reused: `seek(target)` then `next(cb)` per
 *            entry. The binding returns the first entry after a seek alone, then fills a
 *            read-ahead of highWaterMark bytes (default 16 KiB, ~140 entries copied into JS to
 *            use 10: 0.56 ms per seek); sized to the bytes a seek reads (leveldown's documented
 *            iterator option) a seek is two round trips. A fresh `db.iterator({ gte, limit })`
 *            per short scan (YCSB E): limit bounds the read-ahead.
 * - iterate: `db.iterator()` + `next(cb)`: the binding's read-ahead (highWaterMark 16 KiB)
 *            serves most next() calls from memory.
 * Durability: `{ sync: false }` (its default) and `{ sync: true }`. Everything else is the
 * binding's defaults (4 MiB write buffer, 8 MiB block cache, 4 KiB blocks, 10-bit bloom filter,
 * snappy compression).
 */
import { createRequire } from 'node:module'
import type { BenchCursor, BenchEngine, EngineFactory, EngineOpenOptions, Entry } from './types.js'

type Callback<T = void> = (error: Error | null | undefined, result?: T) => void
type NextCallback = (error: Error | null | undefined, key?: Buffer, value?: Buffer) => void

interface RocksIterator {
  next(callback: NextCallback): void
  seek(target: Buffer): void
  end(callback: Callback): void
}

interface RocksDb {
  open(options: { createIfMissing: boolean }, callback: Callback): void
  put(key: Buffer, value: Buffer, options: { sync: boolean }, callback: Callback): void
  batch(ops: { type: 'put'; key: Buffer; value: Buffer }[], options: { sync: boolean }, callback: Callback): void
  get(key: Buffer, options: { asBuffer: boolean }, callback: Callback<Buffer>): void
  iterator(options?: { gte?: Buffer; limit?: number; highWaterMark?: number }): RocksIterator
  close(callback: Callback): void
}

const require = createRequire(import.meta.url)

function promised(call: (callback: Callback) => void): Promise<void> {
  return new Promise((resolve, reject) => call((error) => (error ? reject(error) : resolve())))
}

/** Reads up to `count` entries from `iterator` (its position), one next() callback each. */
function take(iterator: RocksIterator, count: number): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const out: Entry[] = []
    const step = (): void => {
      if (out.length >= count) return resolve(out)
      iterator.next((error, key, value) => {
        if (error) return reject(error)
        if (key === undefined || value === undefined) return resolve(out)
        out.push([key, value])
        step()
      })
    }
    step()
  })
}

class RocksdbEngine implements BenchEngine {
  readonly readsAreSync = false

  constructor(private readonly db: RocksDb, private readonly sync: boolean) {}

  put(key: Buffer, value: Buffer): Promise<void> {
    return promised((cb) => this.db.put(key, value, { sync: this.sync }, cb))
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void> {
    const ops = entries.map(([key, value]) => ({ type: 'put' as const, key, value }))
    return promised((cb) => this.db.batch(ops, { sync: this.sync }, cb))
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(key, { asBuffer: true }, (error, value) => {
        if (!error) resolve(value)
        else if (error.message.startsWith('NotFound')) resolve(undefined)
        else reject(error)
      })
    })
  }

  async range(start: Buffer, count: number): Promise<Entry[]> {
    const iterator = this.db.iterator({ gte: start, limit: count })
    try {
      return await take(iterator, count)
    } finally {
      await promised((cb) => iterator.end(cb))
    }
  }

  cursor(readAheadBytes: number): BenchCursor {
    // the default 16 KiB read-ahead copies ~140 entries into JS per seek to use 11 of them
    const iterator = this.db.iterator({ highWaterMark: Math.max(1, readAheadBytes - 1) })
    return {
      seek(target: Buffer, count: number): Promise<Entry[]> {
        iterator.seek(target)
        return take(iterator, count)
      },
      close(): Promise<void> {
        return promised((cb) => iterator.end(cb))
      },
    }
  }

  scan(visit: (key: Buffer, value: Buffer) => void): Promise<number> {
    const iterator = this.db.iterator()
    let count = 0
    const all = new Promise<number>((resolve, reject) => {
      const step = (): void => {
        iterator.next((error, key, value) => {
          if (error) return reject(error)
          if (key === undefined || value === undefined) return resolve(count)
          visit(key, value)
          count++
          step()
        })
      }
      step()
    })
    const end = (): Promise<void> => promised((cb) => iterator.end(cb))
    return all.then(async (n) => (await end(), n), async (error: unknown) => (await end(), Promise.reject(error)))
  }

  close(): Promise<void> {
    return promised((cb) => this.db.close(cb))
  }
}

function rocksdbVersion(): string {
  try {
    const manifest = require('rocksdb/package.json') as { version?: string }
    return `rocksdb@${manifest.version ?? '?'} (RocksDB)`
  } catch {
    return 'rocksdb (RocksDB)'
  }
}

export const rocksdbEngine: EngineFactory = {
  name: 'rocksdb',
  version: rocksdbVersion(),
  apis: {
    put: 'db.put(k, v, cb)',
    batch: "db.batch([{ type: 'put', key, value }, ...], cb)",
    get: 'db.get(k, cb) (async)',
    iterate: 'db.iterator().next(cb) (16 KiB read-ahead)',
    seek: 'db.iterator({ highWaterMark: bytes a seek reads }) reused: seek(k) + next(cb); YCSB E: db.iterator({ gte, limit })',
    durability: '{ sync: false } / { sync: true }',
  },
  hasSyncGet: false,
  async open(dir: string, options: EngineOpenOptions): Promise<BenchEngine> {
    const create = require('rocksdb') as (location: string) => RocksDb
    const db = create(dir)
    await promised((cb) => db.open({ createIfMissing: true }, cb))
    return new RocksdbEngine(db, options.sync)
  },
}
