/**
 * Memtable structure micro-benchmark: which ordered structure should hold the memtable?
 *
 * Candidates, all keyed by (user key Buffer, seqno) in internal order (user key ascending
 * bytewise, seqno descending) and holding (kind, value). All use the same key comparison
 * (compareUserKeys from skiplist.ts), so the structures are compared, not the comparators:
 *   skiplist      src/engine/memtable/skiplist.ts (the real one: towers of forward links,
 *                 height <= 12, p = 1/4, backward link on level 0)
 *   btree         a hand-written B+tree below (leaves of parallel arrays, linked leaves)
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
 *   node --expose-gc /tmp/strata-bench/bench/memtable-structures.js [entries] [runs]
 * Results and the decision: docs/memtable.md.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SkipList, compareUserKeys } from '../src/engine/memtable/skiplist.js'
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

class SkipListCandidate implements Candidate {
  readonly list = new SkipList()
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    this.list.insert(key, seqno, kind, value)
  }
  get(key: Buffer, readSeqno: number): Buffer | undefined {
    const node = this.list.seekGE(key, readSeqno)
    return node !== null && compareUserKeys(node.key, key) === 0 ? node.value : undefined
  }
  scan(): number {
    let sum = 0
    for (let node = this.list.first(); node !== null; node = node.next[0] as typeof node) {
      sum += node.seqno + node.value.length
    }
    return sum
  }
}

/** Leaf and inner fan-out; 64 was the best of 16/32/64/128 in a quick sweep. */
const BTREE_FANOUT = 64

class BLeaf {
  keys: Buffer[] = []
  seqnos: number[] = []
  kinds: KeyKind[] = []
  values: Buffer[] = []
  next: BLeaf | null = null
}

/** keys[i], seqnos[i]: the smallest entry under children[i + 1]. */
class BInner {
  keys: Buffer[] = []
  seqnos: number[] = []
  children: (BLeaf | BInner)[] = []
}

interface Split { key: Buffer; seqno: number; right: BLeaf | BInner }

/** First index whose entry is >= target (leaf) or > target (inner, `upper`). */
function search(keys: Buffer[], seqnos: number[], key: Buffer, seqno: number, upper: boolean): number {
  let low = 0
  let high = keys.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const c = compareEntry(keys[mid] as Buffer, seqnos[mid] as number, key, seqno)
    if (c < 0 || (upper && c === 0)) low = mid + 1
    else high = mid
  }
  return low
}

class BTreeCandidate implements Candidate {
  root: BLeaf | BInner = new BLeaf()

  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    const split = this.#insertInto(this.root, key, seqno, kind, value)
    if (split === null) return
    const root = new BInner()
    root.keys.push(split.key)
    root.seqnos.push(split.seqno)
    root.children.push(this.root, split.right)
    this.root = root
  }

  #insertInto(node: BLeaf | BInner, key: Buffer, seqno: number, kind: KeyKind, value: Buffer): Split | null {
    if (node instanceof BLeaf) {
      const at = search(node.keys, node.seqnos, key, seqno, false)
      node.keys.splice(at, 0, key)
      node.seqnos.splice(at, 0, seqno)
      node.kinds.splice(at, 0, kind)
      node.values.splice(at, 0, value)
      return node.keys.length > BTREE_FANOUT ? splitLeaf(node) : null
    }
    const at = search(node.keys, node.seqnos, key, seqno, true)
    const split = this.#insertInto(node.children[at] as BLeaf | BInner, key, seqno, kind, value)
    if (split === null) return null
    node.keys.splice(at, 0, split.key)
    node.seqnos.splice(at, 0, split.seqno)
    node.children.splice(at + 1, 0, split.right)
    return node.children.length > BTREE_FANOUT ? splitInner(node) : null
  }

  get(key: Buffer, readSeqno: number): Buffer | undefined {
    let node = this.root
    while (node instanceof BInner) {
      node = node.children[search(node.keys, node.seqnos, key, readSeqno, true)] as BLeaf | BInner
    }
    let leaf: BLeaf | null = node
    let at = search(leaf.keys, leaf.seqnos, key, readSeqno, false)
    if (at === leaf.keys.length) {
      leaf = leaf.next
      at = 0
    }
    if (leaf === null || compareUserKeys(leaf.keys[at] as Buffer, key) !== 0) return undefined
    return leaf.values[at]
  }

  scan(): number {
    let node = this.root
    while (node instanceof BInner) node = node.children[0] as BLeaf | BInner
    let sum = 0
    for (let leaf: BLeaf | null = node; leaf !== null; leaf = leaf.next) {
      for (let i = 0; i < leaf.keys.length; i++) {
        sum += (leaf.seqnos[i] as number) + (leaf.values[i] as Buffer).length
      }
    }
    return sum
  }
}

function splitLeaf(leaf: BLeaf): Split {
  const half = leaf.keys.length >>> 1
  const right = new BLeaf()
  right.keys = leaf.keys.splice(half)
  right.seqnos = leaf.seqnos.splice(half)
  right.kinds = leaf.kinds.splice(half)
  right.values = leaf.values.splice(half)
  right.next = leaf.next
  leaf.next = right
  return { key: right.keys[0] as Buffer, seqno: right.seqnos[0] as number, right }
}

function splitInner(inner: BInner): Split {
  const half = inner.keys.length >>> 1
  const right = new BInner()
  const key = inner.keys[half] as Buffer
  const seqno = inner.seqnos[half] as number
  right.keys = inner.keys.splice(half + 1)
  right.seqnos = inner.seqnos.splice(half + 1)
  right.children = inner.children.splice(half + 1)
  inner.keys.length = half
  inner.seqnos.length = half
  return { key, seqno, right }
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

function timeIt(work: () => void): number {
  const start = process.hrtime.bigint()
  work()
  return Number(process.hrtime.bigint() - start) / 1e9
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

function runParent(entries: number, runs: number): void {
  const self = fileURLToPath(import.meta.url)
  console.log(`| structure | entries | random insert/s | sequential insert/s | lookup/s | scan entries/s | heap B/entry |`)
  console.log(`|---|---:|---:|---:|---:|---:|---:|`)
  for (const name of Object.keys(CANDIDATES)) {
    // The naive baseline is quadratic: measure it at a tenth of the size.
    const size = name === 'sorted-array' ? Math.min(entries, 100_000) : entries
    const results: Result[] = []
    for (let run = 0; run < runs; run++) {
      const child = spawnSync(process.execPath, ['--expose-gc', self, '--child', name, String(size)], {
        encoding: 'utf8', maxBuffer: 1 << 20,
      })
      if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`)
      results.push(JSON.parse(child.stdout) as Result)
    }
    const pick = (field: keyof Omit<Result, 'name'>): string =>
      median(results.map((r) => r[field])).toLocaleString('en-US')
    console.log(`| ${name} | ${pick('entries')} | ${pick('randomInsertsPerSecond')} | ` +
      `${pick('sequentialInsertsPerSecond')} | ${pick('lookupsPerSecond')} | ` +
      `${pick('scanEntriesPerSecond')} | ${pick('heapBytesPerEntry')} |`)
  }
}

const args = process.argv.slice(2)
if (args[0] === '--child') {
  console.log(JSON.stringify(runChild(args[1] as string, Number(args[2]))))
} else {
  runParent(Number(args[0] ?? 1_000_000), Number(args[1] ?? 3))
}
