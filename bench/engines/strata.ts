/**
 * Benchmark adapter for Strata, through its public door (src/engine/index.ts) only.
 *
 * Fastest APIs a Node user would call (and what the report prints):
 * - put:     `await tree.put(key, value)`; under sync 'none' it resolves once the WAL record is
 *            handed to the OS, and concurrent puts share one WAL append (group commit).
 * - batch:   `await tree.batch().put(k, v)....write()`: one WAL record, one seqno.
 * - get:     `tree.get(key)`: SYNCHRONOUS (page-cached preads, no threadpool round trip), so the
 *            harness calls it in a plain loop.
 * - seek:    one `tree.iterator()` reused: `seek(target)` then `next()` (seekrandom); a fresh
 *            `tree.iterator({ gte, limit })` per short scan (YCSB E). Both synchronous.
 * - iterate: `tree.iterator()` + `next()`: synchronous, no read-ahead buffer to fill.
 * Durability: `sync: 'none'` against the peers' unsynced writes, `sync: 'always'` (fsync per
 * commit group) in fillsync. Everything else is Strata's defaults (compression 'none', 64 MiB
 * memtable, 4 KiB blocks, 10 bloom bits per key, 64 MiB block cache).
 */
import { readFileSync } from 'node:fs'
import { Tree, type TreeIterator } from '../../src/engine/index.js'
import { SCAN_YIELD_ENTRIES, yieldToEventLoop, type BenchCursor, type BenchEngine, type EngineFactory, type EngineOpenOptions, type Entry } from './types.js'

function take(iterator: TreeIterator, count: number): Entry[] {
  const out: Entry[] = []
  for (let i = 0; i < count; i++) {
    const entry = iterator.next()
    if (entry === undefined) break
    out.push(entry)
  }
  return out
}

class StrataEngine implements BenchEngine {
  readonly readsAreSync = true

  constructor(private readonly tree: Tree) {}

  async put(key: Buffer, value: Buffer): Promise<void> {
    await this.tree.put(key, value)
  }

  async batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void> {
    const batch = this.tree.batch()
    for (const [key, value] of entries) batch.put(key, value)
    await batch.write()
  }

  get(key: Buffer): Buffer | undefined {
    return this.tree.get(key)
  }

  range(start: Buffer, count: number): Entry[] {
    const iterator = this.tree.iterator({ gte: start, limit: count })
    try {
      return take(iterator, count)
    } finally {
      iterator.close()
    }
  }

  cursor(_readAheadBytes: number): BenchCursor {
    const iterator = this.tree.iterator()
    return {
      seek(target: Buffer, count: number): Entry[] {
        iterator.seek(target)
        return take(iterator, count)
      },
      close(): void {
        iterator.close()
      },
    }
  }

  async scan(visit: (key: Buffer, value: Buffer) => void): Promise<number> {
    const iterator = this.tree.iterator()
    let count = 0
    try {
      for (let entry = iterator.next(); entry !== undefined; entry = iterator.next()) {
        visit(entry[0], entry[1])
        if (++count % SCAN_YIELD_ENTRIES === 0) await yieldToEventLoop()
      }
    } finally {
      iterator.close()
    }
    return count
  }

  close(): Promise<void> {
    return this.tree.close()
  }
}

/** The version of this checkout: the nearest package.json named 'strata' above this file. */
function strataVersion(): string {
  let dir = new URL('.', import.meta.url)
  for (let depth = 0; depth < 6; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string }
      if (manifest.name === 'strata') return `strata@${manifest.version ?? '?'} (this checkout)`
    } catch {
      // no package.json at this depth: keep walking up
    }
    dir = new URL('..', dir)
  }
  return 'strata (this checkout)'
}

export const strataEngine: EngineFactory = {
  name: 'strata',
  version: strataVersion(),
  apis: {
    put: 'await tree.put(k, v)',
    batch: 'await tree.batch().put(k, v)...write()',
    get: 'tree.get(k) (sync)',
    iterate: 'tree.iterator().next() (sync)',
    seek: 'tree.iterator() reused: seek(k) + next() (sync); YCSB E: tree.iterator({ gte, limit })',
    durability: "sync: 'none' / 'always'",
  },
  hasSyncGet: true,
  async open(dir: string, options: EngineOpenOptions): Promise<BenchEngine> {
    const tree = await Tree.open(dir, { sync: options.sync ? 'always' : 'none' })
    return new StrataEngine(tree)
  },
}
