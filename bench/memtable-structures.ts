/**
 * Memtable structure micro-benchmark: which ordered structure should hold the memtable?
 *
 * Candidates, all keyed by (user key Buffer, seqno) in internal order (user key ascending
 * bytewise, seqno descending) and holding (kind, value). All use the same key comparison
 * (compareUserKeys from skiplist.ts), so the structures are compared, not the comparators:
 *   skiplist      hand-written below: towers of forward links, height <= 12, p = 1/4, a
 *                 backward link on level 0 (leveldb db/skiplist.h)
 *   btree         the winner, src/engine/memtable/btree.ts (B+tree, 64-entry leaves of
 *                 parallel arrays, linked leaves), measured through its cursor
 *   sorted-array  binary search + splice: the naive baseline (quadratic inserts)
 *
 * Workloads, per candidate, each in a fresh child process (so heap state does not leak from
 * one candidate to the next): random inserts of N 16-byte keys with 100-byte values,
 * sequential inserts of N keys, N point lookups (newest version <= a random read seqno),
 * and a full ordered scan. Keys and values are allocated before timing, so the heap delta
 * (process.memoryUsage().heapUsed after a forced GC) is the structure's own overhead.
 *
 * Run (tsx is not installed; compile, then run the emitted JavaScript):
 *   npx tsc --outDir /tmp/strata-bench --rootDir . --module NodeNext \
 *     --moduleResolution NodeNext --target ES2022 --strict --skipLibCheck \
 *     bench/memtable-structures.ts
 *   node --expose-gc /tmp/strata-bench/bench/memtable-structures.js [entries] [runs] [names...]
 * Results and the decision: docs/memtable.md.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { BTree, compareUserKeys } from '../src/engine/memtable/btree.js'
import { KeyKind, MAX_SEQNO } from '../src/engine/base/internal-key.js'

interface Candidate {
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void
  /** Value of the newest entry of `key` with seqno <= readSeqno, or undefined. */
  get(key: Buffer, readSeqno: number): Buffer | undefined
  /** Visits every entry in order; returns a checksum so the loop cannot be optimised away. */
  scan(): number
}

function compareEntry(aKey: Buffer, aSeqno: number, bKey: Buffer, bSeqno: number): number {
  const c = compareUserKeys(aKey, bKey)
  if (c !== 0) return c
  return aSeqno === bSeqno ? 0 : aSeqno > bSeqno ? -1 : 1
}

/** 4^12 = 16.7 M entries before towers stop growing (leveldb kMaxHeight). */
const SKIPLIST_HEIGHT_MAX = 12

class SkipNode {
  /** Forward links, exact length (push() would reserve 17 slots and triple the node). */
  readonly next: (SkipNode | null)[]
  prev: SkipNode | null = null
  constructor(readonly key: Buffer, readonly seqno: number, readonly kind: KeyKind,
    readonly value: Buffer, height: number) {
    this.next = height === 1 ? [null] : new Array<SkipNode | null>(height).fill(null)
  }
}

/** Towers of forward links, p = 1/4, plus a level-0 backward link (leveldb db/skiplist.h). */
class SkipListCandidate implements Candidate {
  readonly head = new SkipNode(Buffer.alloc(0), 0, KeyKind.Put, Buffer.alloc(0), SKIPLIST_HEIGHT_MAX)
  readonly predecessors: SkipNode[] = new Array<SkipNode>(SKIPLIST_HEIGHT_MAX).fill(this.head)
  height = 1
  random = 0x2545f491

  /** First node >= target; records the last node < target per level when asked. */
  descend(key: Buffer, seqno: number, record: boolean): SkipNode | null {
    let node = this.head
    let bound: SkipNode | null = null
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const next = node.next[level] as SkipNode | null
        if (next === null || next === bound || compareEntry(next.key, next.seqno, key, seqno) >= 0) {
          bound = next
          break
        }
        node = next
      }
      if (record) this.predecessors[level] = node
    }
    return bound
  }

  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    const successor = this.descend(key, seqno, true)
    let height = 1
    for (;;) {
      this.random ^= this.random << 13
      this.random ^= this.random >>> 17
      this.random ^= this.random << 5
      if (height >= SKIPLIST_HEIGHT_MAX || (this.random & 3) !== 0) break
      height++
    }
    for (; this.height < height; this.height++) this.predecessors[this.height] = this.head
    const node = new SkipNode(key, seqno, kind, value, height)
    for (let level = 0; level < height; level++) {
      const predecessor = this.predecessors[level] as SkipNode
      node.next[level] = predecessor.next[level] as SkipNode | null
      predecessor.next[level] = node
    }
    const before = this.predecessors[0] as SkipNode
    node.prev = before === this.head ? null : before
    if (successor !== null) successor.prev = node
  }

  get(key: Buffer, readSeqno: number): Buffer | undefined {
    const node = this.descend(key, readSeqno, false)
    return node !== null && compareUserKeys(node.key, key) === 0 ? node.value : undefined
  }

  scan(): number {
    let sum = 0
    for (let node = this.head.next[0] as SkipNode | null; node !== null; node = node.next[0] as SkipNode | null) {
      sum += node.seqno + node.value.length
    }
    return sum
  }
}

/** The real memtable structure (src/engine/memtable/btree.ts). */
class BTreeCandidate implements Candidate {
  readonly tree = new BTree()
  readonly cursor = this.tree.cursor()
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    this.tree.insert(key, seqno, kind, value)
  }
  get(key: Buffer, readSeqno: number): Buffer | undefined {
    this.cursor.seekGE(key, readSeqno)
    return this.cursor.valid && compareUserKeys(this.cursor.key, key) === 0 ? this.cursor.value : undefined
  }
  scan(): number {
    let sum = 0
    for (this.cursor.first(); this.cursor.valid; this.cursor.next()) sum += this.cursor.seqno + this.cursor.value.length
    return sum
  }
}

interface ArrayEntry { key: Buffer; seqno: number; kind: KeyKind; value: Buffer }

class SortedArrayCandidate implements Candidate {
  readonly entries: ArrayEntry[] = []
  #lowerBound(key: Buffer, seqno: number): number {
    let low = 0
    let high = this.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      const entry = this.entries[mid] as ArrayEntry
      if (compareEntry(entry.key, entry.seqno, key, seqno) < 0) low = mid + 1
      else high = mid
    }
    return low
  }
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    this.entries.splice(this.#lowerBound(key, seqno), 0, { key, seqno, kind, value })
  }
  get(key: Buffer, readSeqno: number): Buffer | undefined {
    const entry = this.entries[this.#lowerBound(key, readSeqno)]
    return entry !== undefined && compareUserKeys(entry.key, key) === 0 ? entry.value : undefined
  }
  scan(): number {
    let sum = 0
    for (const entry of this.entries) sum += entry.seqno + entry.value.length
    return sum
  }
}

const CANDIDATES: Record<string, () => Candidate> = {
  'skiplist': () => new SkipListCandidate(),
  'btree': () => new BTreeCandidate(),
  'sorted-array': () => new SortedArrayCandidate(),
}

/** mulberry32: small seeded PRNG so every run inserts the same keys. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KEY_BYTES = 16
const VALUE_BYTES = 100

function makeData(entries: number, sequential: boolean): { keys: Buffer[]; values: Buffer[] } {
  const random = prng(42)
  const keys: Buffer[] = []
  const values: Buffer[] = []
  for (let i = 0; i < entries; i++) {
    const key = Buffer.alloc(KEY_BYTES)
    if (sequential) key.writeUInt32BE(i, KEY_BYTES - 4)
    else for (let j = 0; j < KEY_BYTES; j += 4) key.writeUInt32BE((random() * 2 ** 32) >>> 0, j)
    keys.push(key)
    values.push(Buffer.alloc(VALUE_BYTES, i & 0xff))
  }
  return { keys, values }
}

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/**
 * CPU seconds (user + system, all threads of this process: GC helpers count) spent in `work`.
 * CPU time rather than wall time: the machines this runs on are shared, and time spent waiting
 * for a core says nothing about the structure. ops/s below are per CPU second.
 */
function timeIt(work: () => void): number {
  const start = process.cpuUsage()
  work()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

interface Result {
  name: string; entries: number; randomInsertsPerSecond: number; sequentialInsertsPerSecond: number
  lookupsPerSecond: number; scanEntriesPerSecond: number; heapBytesPerEntry: number
}

function runChild(name: string, entries: number): Result {
  const make = CANDIDATES[name]
  if (make === undefined) throw new Error(`unknown candidate ${name}`)
  const { keys, values } = makeData(entries, false)
  const heapBefore = collect()
  let structure: Candidate | null = make()
  const filled = structure
  const insertSeconds = timeIt(() => {
    for (let i = 0; i < entries; i++) filled.insert(keys[i] as Buffer, i + 1, KeyKind.Put, values[i] as Buffer)
  })
  const heapBytesPerEntry = (collect() - heapBefore) / entries
  const random = prng(7)
  const probes = keys.map((_, i) => i)
  for (let i = probes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const swap = probes[i] as number
    probes[i] = probes[j] as number
    probes[j] = swap
  }
  let found = 0
  const lookupSeconds = timeIt(() => {
    for (const i of probes) {
      const readSeqno = 1 + Math.floor(random() * entries)
      if (filled.get(keys[i] as Buffer, readSeqno) !== undefined) found++
    }
  })
  let checksum = 0
  const scanSeconds = timeIt(() => { checksum = filled.scan() })
  if (found === 0 || checksum === 0) throw new Error('benchmark did no work')
  structure = null
  const sequential = makeData(entries, true)
  collect()
  const again = make()
  const sequentialSeconds = timeIt(() => {
    for (let i = 0; i < entries; i++) {
      again.insert(sequential.keys[i] as Buffer, i + 1, KeyKind.Put, sequential.values[i] as Buffer)
    }
  })
  if (again.get(sequential.keys[0] as Buffer, MAX_SEQNO) === undefined) throw new Error('lost a key')
  return {
    name, entries, heapBytesPerEntry: Math.round(heapBytesPerEntry),
    randomInsertsPerSecond: Math.round(entries / insertSeconds),
    sequentialInsertsPerSecond: Math.round(entries / sequentialSeconds),
    lookupsPerSecond: Math.round(entries / lookupSeconds),
    scanEntriesPerSecond: Math.round(entries / scanSeconds),
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >>> 1] as number
}

function runChildProcess(name: string, entries: number): Result {
  const self = fileURLToPath(import.meta.url)
  const child = spawnSync(process.execPath, ['--expose-gc', self, '--child', name, String(entries)], {
    encoding: 'utf8', maxBuffer: 1 << 20,
  })
  if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`)
  return JSON.parse(child.stdout) as Result
}

/** Runs are interleaved (a, b, c, a, b, c, ...) so that load from other processes on the
 *  machine hits every candidate alike; the table shows the median of the runs. */
function runParent(entries: number, runs: number, only: string[]): void {
  const names = Object.keys(CANDIDATES).filter((n) => only.length === 0 || only.includes(n))
  const results = new Map<string, Result[]>(names.map((n) => [n, []]))
  for (let run = 0; run < runs; run++) {
    for (const name of names) {
      // The naive baseline is quadratic: measure it at a tenth of the size at most.
      const size = name === 'sorted-array' ? Math.min(entries, 100_000) : entries
      results.get(name)?.push(runChildProcess(name, size))
    }
  }
  console.log(`| structure | entries | random insert/s | sequential insert/s | lookup/s | scan entries/s | heap B/entry |`)
  console.log(`|---|---:|---:|---:|---:|---:|---:|`)
  for (const name of names) {
    const runsOf = results.get(name) ?? []
    const pick = (field: keyof Omit<Result, 'name'>): string =>
      median(runsOf.map((r) => r[field])).toLocaleString('en-US')
    console.log(`| ${name} | ${pick('entries')} | ${pick('randomInsertsPerSecond')} | ` +
      `${pick('sequentialInsertsPerSecond')} | ${pick('lookupsPerSecond')} | ` +
      `${pick('scanEntriesPerSecond')} | ${pick('heapBytesPerEntry')} |`)
  }
}

const args = process.argv.slice(2)
if (args[0] === '--child') {
  console.log(JSON.stringify(runChild(args[1] as string, Number(args[2]))))
} else {
  runParent(Number(args[0] ?? 1_000_000), Number(args[1] ?? 3), args.slice(2))
}
