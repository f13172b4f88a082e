/**
 * SkipList: the memtable's ordered structure. Holds point entries (user key, seqno, kind, value)
 * in internal order: user key ascending (Buffer.compare), seqno descending. Chosen over a
 * B+tree and a sorted array by bench/memtable-structures.ts; numbers and reasons in
 * docs/memtable.md.
 *
 * Shape (leveldb db/skiplist.h): a sentinel head of height HEIGHT_MAX, each node a tower of
 * forward links of random height (p = 1/4), plus one backward link on level 0 so that prev()
 * is O(1) instead of leveldb's O(log n) re-search.
 *
 * Invariants:
 * - Level 0 is a doubly linked list of every node in strictly increasing internal order;
 *   level i > 0 is a sub-list of level i - 1.
 * - (user key, seqno) pairs are unique (asserted on insert).
 * - Nodes are never removed or moved, and a node's fields never change after it is linked, so
 *   a cursor holding a node stays valid forever. JS runs one call at a time, so an insert
 *   is never observed half done; a cursor that steps after an insert sees the new node iff
 *   it lies between the cursor's node and its neighbour in the direction of the step.
 * - Buffers are stored as given, never copied: the caller hands over ownership.
 */
import { assert } from '../base/assert.js'
import type { KeyKind } from '../base/internal-key.js'

/** 4^12 = 16.7 M entries before towers stop growing: a 64 MiB memtable of tiny entries fits. */
export const HEIGHT_MAX = 12
/** A node gets one more level with probability 1/BRANCHING (leveldb kBranching). */
const BRANCHING = 4

assert(BRANCHING >= 2 && (BRANCHING & (BRANCHING - 1)) === 0, 'branching: a power of two >= 2')
assert(HEIGHT_MAX >= 1 && HEIGHT_MAX <= 32, 'height must fit the random bits we draw')

export class SkipListNode {
  readonly key: Buffer
  readonly seqno: number
  readonly kind: KeyKind
  readonly value: Buffer
  /** Forward links, one per level of the tower; next[0] is the successor. */
  readonly next: (SkipListNode | null)[]
  /** Predecessor on level 0, or null for the first node. */
  prev: SkipListNode | null = null

  constructor(key: Buffer, seqno: number, kind: KeyKind, value: Buffer, height: number) {
    this.key = key
    this.seqno = seqno
    this.kind = kind
    this.value = value
    // Exact-length arrays: push() would reserve 17 slots (V8 growth) and triple the node size.
    this.next = height === 1 ? [null] : new Array<SkipListNode | null>(height).fill(null)
  }
}

/** Bytes compared in JavaScript before handing the rest to the native compare. */
const INLINE_COMPARE_BYTES = 64

/**
 * Bytewise order of user keys (the sign equals Buffer.compare's). On Node 20 a Buffer.compare
 * call costs ~110 ns (no fast API path) while a JS loop over short keys costs ~20 ns, and the
 * comparison is most of an insert's cost (bench/memtable-structures.ts): compare the first
 * INLINE_COMPARE_BYTES here, then let the native memcmp finish long shared prefixes.
 */
export function compareUserKeys(a: Uint8Array, b: Uint8Array): number {
  const common = a.length < b.length ? a.length : b.length
  const inline = common < INLINE_COMPARE_BYTES ? common : INLINE_COMPARE_BYTES
  for (let i = 0; i < inline; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  if (inline < common) return Buffer.compare(a.subarray(inline), b.subarray(inline))
  return a.length - b.length
}

/** Sign of node (key, seqno) versus the target in internal order. */
function compareNode(node: SkipListNode, key: Uint8Array, seqno: number): number {
  const c = compareUserKeys(node.key, key)
  if (c !== 0) return c
  if (node.seqno === seqno) return 0
  return node.seqno > seqno ? -1 : 1
}

export class SkipList {
  readonly #head = new SkipListNode(Buffer.alloc(0), 0, 0, Buffer.alloc(0), HEIGHT_MAX)
  /** Predecessors found by the last insert's descent, reused to avoid an allocation. */
  readonly #predecessors: SkipListNode[] = []
  #height = 1
  #count = 0
  /** xorshift32 state; a fixed seed keeps tower heights (and so benchmarks) reproducible. */
  #random = 0x2545f491

  constructor() {
    for (let i = 0; i < HEIGHT_MAX; i++) this.#predecessors.push(this.#head)
  }

  get count(): number {
    return this.#count
  }

  /** Links a new node. Requires: no node with the same (key, seqno) exists. O(log n). */
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): SkipListNode {
    const predecessors = this.#predecessors
    const successor = this.#descend(key, seqno, predecessors)
    assert(successor === null || compareNode(successor, key, seqno) > 0, 'duplicate (key, seqno)')
    const height = this.#randomHeight()
    if (height > this.#height) {
      for (let level = this.#height; level < height; level++) predecessors[level] = this.#head
      this.#height = height
    }
    const node = new SkipListNode(key, seqno, kind, value, height)
    for (let level = 0; level < height; level++) {
      const predecessor = predecessors[level] as SkipListNode
      node.next[level] = predecessor.next[level] as SkipListNode | null
      predecessor.next[level] = node
    }
    const before = predecessors[0] as SkipListNode
    node.prev = before === this.#head ? null : before
    if (successor !== null) successor.prev = node
    this.#count++
    assert(node.next[0] === successor, 'level 0 link lost')
    return node
  }

  /** First node >= (key, seqno) in internal order, or null. */
  seekGE(key: Uint8Array, seqno: number): SkipListNode | null {
    return this.#descend(key, seqno, null)
  }

  /** Last node < (key, seqno) in internal order, or null. With seqno = MAX_SEQNO this is the
   *  last node whose user key is < key. */
  seekLT(key: Uint8Array, seqno: number): SkipListNode | null {
    let node = this.#head
    let bound: SkipListNode | null = null
    for (let level = this.#height - 1; level >= 0; level--) {
      for (;;) {
        const next = node.next[level] as SkipListNode | null
        if (next === null || next === bound || compareNode(next, key, seqno) >= 0) {
          bound = next
          break
        }
        node = next
      }
    }
    return node === this.#head ? null : node
  }

  first(): SkipListNode | null {
    return this.#head.next[0] as SkipListNode | null
  }

  last(): SkipListNode | null {
    let node = this.#head
    for (let level = this.#height - 1; level >= 0; level--) {
      for (;;) {
        const next = node.next[level] as SkipListNode | null
        if (next === null) break
        node = next
      }
    }
    return node === this.#head ? null : node
  }

  /**
   * Walks down from the top level to the first node >= (key, seqno), recording the last node
   * < target on each level into `predecessors` when given. `bound` remembers the node that
   * stopped the previous level so it is not compared twice (leveldb's trick).
   */
  #descend(key: Uint8Array, seqno: number, predecessors: SkipListNode[] | null): SkipListNode | null {
    let node = this.#head
    let bound: SkipListNode | null = null
    for (let level = this.#height - 1; level >= 0; level--) {
      for (;;) {
        const next = node.next[level] as SkipListNode | null
        if (next === null || next === bound || compareNode(next, key, seqno) >= 0) {
          bound = next
          break
        }
        node = next
      }
      if (predecessors !== null) predecessors[level] = node
    }
    return bound
  }

  #randomHeight(): number {
    let x = this.#random
    let height = 1
    for (;;) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      if (height >= HEIGHT_MAX || (x & (BRANCHING - 1)) !== 0) break
      height++
    }
    this.#random = x
    assert(height >= 1 && height <= HEIGHT_MAX, 'tower height out of range')
    return height
  }
}
