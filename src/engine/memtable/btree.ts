/**
 * BTree: the memtable's ordered structure, an in-memory B+tree of point entries (user key,
 * seqno, kind, value) in internal order: user key ascending (bytewise), seqno descending.
 * Chosen over a skiplist and a sorted array by bench/memtable-structures.ts (numbers and
 * reasons in docs/memtable.md): at 1 M entries it inserts ~2x, looks up 2-3x and scans ~2x
 * faster than a skiplist and uses ~2.4x less heap, because a leaf keeps 64 key pointers in
 * one array instead of one heap node (and one cache miss) per entry.
 *
 * Shape: inner nodes hold separators and children; leaves hold parallel arrays (keys,
 * seqnos, kinds, values) and are doubly linked, so a scan or a prev() never climbs the tree.
 *
 * Invariants:
 * - Every leaf holds entries in strictly increasing internal order; the leaf list, read
 *   front to back, is every entry in order. Only the root may be empty (an empty tree).
 * - Inner node: separators.length === children.length - 1; separator i is the smallest
 *   entry under child i + 1, and every entry under child i is smaller than it.
 * - (user key, seqno) pairs are unique (asserted on insert). Entries are never removed.
 * - A leaf's `version` changes whenever an entry is inserted into it or moved out of it (a
 *   split), so a cursor that remembered (leaf, index, version) knows when to find its entry
 *   again. The entry itself never changes, so a cursor always stays on the same entry.
 * - Buffers are stored as given, never copied: the caller hands over ownership.
 *
 * Concurrency: one writer; cursors may be open while inserts happen between their calls (JS
 * runs one call at a time, so no insert is ever observed half done). A cursor keeps its
 * entry; its next step goes to that entry's neighbour in the tree as it is at the time of
 * the step, so it sees entries inserted ahead of it in its direction of travel, never skips
 * or repeats an entry, and always walks in internal order.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import { MAX_SEQNO, type KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'

/** Entries per leaf before it splits: least heap of 16/32/64/128 (docs/memtable.md). */
export const LEAF_ENTRIES_MAX = 64
/** Children per inner node before it splits; same sweep as LEAF_ENTRIES_MAX. */
export const INNER_CHILDREN_MAX = 64

assert(LEAF_ENTRIES_MAX >= 4, 'a leaf must split into two non-empty halves')
assert(INNER_CHILDREN_MAX >= 4, 'an inner node must split into two nodes of >= 2 children')

/**
 * Bytewise order of user keys; the sign equals Buffer.compare's. On Node 20 a Buffer.compare
 * call costs ~110 ns (no fast API path) while a JS loop over a 16-byte key costs ~20 ns, and
 * comparisons are most of an insert's cost: compare the first INLINE_COMPARE_BYTES here and
 * let the native memcmp finish long shared prefixes.
 */
/** User keys compare bytewise (base/bytes.ts). */
export const compareUserKeys = compareBytes

class Leaf {
  keys: Buffer[] = []
  seqnos: number[] = []
  kinds: KeyKind[] = []
  values: Buffer[] = []
  next: Leaf | null = null
  prev: Leaf | null = null
  version = 0
}

class Inner {
  keys: Buffer[] = []
  seqnos: number[] = []
  children: (Leaf | Inner)[] = []
}

/** Internal order of (key, seqno) pairs: negative when a comes first. */
function compareEntry(aKey: Uint8Array, aSeqno: number, bKey: Uint8Array, bSeqno: number): number {
  const c = compareUserKeys(aKey, bKey)
  if (c !== 0) return c
  return aSeqno === bSeqno ? 0 : aSeqno > bSeqno ? -1 : 1
}

/**
 * Index of the first entry >= (key, seqno) in internal order, or with `upper` the first entry
 * > (key, seqno): the child to descend into is the upper bound among separators.
 */
function search(
  keys: Buffer[], seqnos: number[], key: Uint8Array, seqno: number, upper: boolean,
): number {
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

/**
 * Receives the entries of one user key, newest first (point lookups). `offer` returns true to
 * be given the next older entry, false to stop. The value is data[start, end): a view the
 * visitor must copy to keep, and must never mutate.
 */
export interface PointVisitor {
  offer(seqno: number, kind: KeyKind, data: Buffer, start: number, end: number): boolean
}

/** An entry's position in the order: a separator, or a bound in checkInvariants. */
interface Bound { key: Buffer; seqno: number }
interface Split extends Bound { right: Leaf | Inner }

export class BTree {
  #root: Leaf | Inner = new Leaf()
  /** Inner levels above the leaves; 0 while the root is a leaf. */
  #innerDepth = 0
  #firstLeaf: Leaf
  #lastLeaf: Leaf
  #count = 0
  /** Descent path of the last insert, reused to avoid allocating per insert. */
  readonly #pathNodes: Inner[] = []
  readonly #pathIndexes: number[] = []

  constructor() {
    this.#firstLeaf = this.#root as Leaf
    this.#lastLeaf = this.#root as Leaf
  }

  get count(): number {
    return this.#count
  }

  /** Adds an entry. Requires: no entry with the same (key, seqno). O(log n). */
  insert(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    const leaf = this.#descend(key, seqno, true)
    const at = search(leaf.keys, leaf.seqnos, key, seqno, false)
    const duplicate = at < leaf.keys.length &&
      compareEntry(leaf.keys[at] as Buffer, leaf.seqnos[at] as number, key, seqno) === 0
    assert(!duplicate, 'duplicate (user key, seqno) in the memtable')
    const appending = at === leaf.keys.length && leaf === this.#lastLeaf
    leaf.keys.splice(at, 0, key)
    leaf.seqnos.splice(at, 0, seqno)
    leaf.kinds.splice(at, 0, kind)
    leaf.values.splice(at, 0, value)
    leaf.version++
    this.#count++
    if (leaf.keys.length <= LEAF_ENTRIES_MAX) return
    this.#splitUpwards(this.#splitLeaf(leaf, appending), appending)
  }

  /**
   * Offers `visitor` the entries of `key` with seqno <= `seqno`, newest first, until it
   * declines one or they run out. No cursor and no allocation (Tree.get's path).
   */
  visitKey(key: Uint8Array, seqno: number, visitor: PointVisitor): void {
    let leaf: Leaf | null = this.#descend(key, seqno, false)
    let index = search(leaf.keys, leaf.seqnos, key, seqno, false)
    while (leaf !== null) {
      if (index >= leaf.keys.length) {
        leaf = leaf.next
        index = 0
        continue
      }
      const entryKey = leaf.keys[index] as Buffer
      if (compareUserKeys(entryKey, key) !== 0) return
      const value = leaf.values[index] as Buffer
      if (!visitor.offer(leaf.seqnos[index] as number, leaf.kinds[index] as KeyKind, value, 0, value.length)) return
      index++
    }
  }

  /** A new cursor, positioned nowhere (invalid) until a positioning call. */
  cursor(): BTreeCursor {
    return new BTreeCursor(this)
  }

  /** The leaf where (key, seqno) is or would be inserted. Records the path when asked. */
  #descend(key: Uint8Array, seqno: number, recordPath: boolean): Leaf {
    let node = this.#root
    for (let depth = 0; depth < this.#innerDepth; depth++) {
      const inner = node as Inner
      const index = search(inner.keys, inner.seqnos, key, seqno, true)
      if (recordPath) {
        this.#pathNodes[depth] = inner
        this.#pathIndexes[depth] = index
      }
      node = inner.children[index] as Leaf | Inner
    }
    assert(node instanceof Leaf, 'descent must end on a leaf')
    return node
  }

  /**
   * Splits an overfull leaf in two and links the right half in. When appending at the end of
   * the tree (sequential inserts) the left leaf stays full, so a sequential load packs leaves.
   */
  #splitLeaf(leaf: Leaf, appending: boolean): Split {
    const keep = appending ? leaf.keys.length - 1 : leaf.keys.length >>> 1
    assert(keep >= 1 && keep < leaf.keys.length, 'split must leave both leaves non-empty')
    const right = new Leaf()
    right.keys = leaf.keys.splice(keep)
    right.seqnos = leaf.seqnos.splice(keep)
    right.kinds = leaf.kinds.splice(keep)
    right.values = leaf.values.splice(keep)
    right.prev = leaf
    right.next = leaf.next
    if (leaf.next !== null) leaf.next.prev = right
    else this.#lastLeaf = right
    leaf.next = right
    leaf.version++
    return { key: right.keys[0] as Buffer, seqno: right.seqnos[0] as number, right }
  }

  /** Inserts the separator of a split into the recorded path, splitting inner nodes as needed. */
  #splitUpwards(first: Split, appending: boolean): void {
    let split = first
    for (let depth = this.#innerDepth - 1; depth >= 0; depth--) {
      const inner = this.#pathNodes[depth] as Inner
      const index = this.#pathIndexes[depth] as number
      inner.keys.splice(index, 0, split.key)
      inner.seqnos.splice(index, 0, split.seqno)
      inner.children.splice(index + 1, 0, split.right)
      if (inner.children.length <= INNER_CHILDREN_MAX) return
      split = splitInner(inner, appending && index + 2 === inner.children.length)
    }
    const root = new Inner()
    root.keys.push(split.key)
    root.seqnos.push(split.seqno)
    root.children.push(this.#root, split.right)
    this.#root = root
    this.#innerDepth++
  }

  /**
   * Walks the whole tree and asserts every invariant of the header; returns the depth (inner
   * levels). O(n), for tests (sorted-btree's checkValid).
   */
  checkInvariants(): number {
    let leaves = 0
    let entries = 0
    let previous = null as Leaf | null // assigned inside visit(); TS cannot see that
    const visit = (node: Leaf | Inner, depth: number, low: Bound | null, high: Bound | null): void => {
      if (depth === this.#innerDepth) {
        assert(node instanceof Leaf, 'leaves all sit at the same depth')
        assert(node.prev === previous, 'leaf back link')
        if (previous !== null) assert(previous.next === node, 'leaf forward link')
        assertLeafOrder(node, low, high)
        assert(node.keys.length > 0 || this.#count === 0, 'only an empty tree has an empty leaf')
        previous = node
        leaves++
        entries += node.keys.length
        return
      }
      assert(node instanceof Inner, 'inner nodes above the leaves')
      assert(node.keys.length === node.children.length - 1, 'separators and children agree')
      node.children.forEach((child, i) => {
        const childLow = i === 0 ? low : separatorAt(node, i - 1)
        visit(child, depth + 1, childLow, i === node.keys.length ? high : separatorAt(node, i))
      })
    }
    visit(this.#root, 0, null, null)
    assert(previous === this.#lastLeaf, 'last leaf')
    assert(this.#firstLeaf.prev === null && this.#lastLeaf.next === null, 'leaf list ends')
    assert(entries === this.#count, `count ${this.#count} but ${entries} entries in ${leaves} leaves`)
    return this.#innerDepth
  }

  // Internals for BTreeCursor (same module).
  leafFor(key: Uint8Array, seqno: number): Leaf {
    return this.#descend(key, seqno, false)
  }
  get firstLeaf(): Leaf {
    return this.#firstLeaf
  }
  get lastLeaf(): Leaf {
    return this.#lastLeaf
  }
}

function separatorAt(node: Inner, index: number): Bound {
  return { key: node.keys[index] as Buffer, seqno: node.seqnos[index] as number }
}

/** Entries of a leaf ascend strictly and lie in [low, high) (separators of its parents). */
function assertLeafOrder(leaf: Leaf, low: Bound | null, high: Bound | null): void {
  for (let i = 0; i < leaf.keys.length; i++) {
    const key = leaf.keys[i] as Buffer
    const seqno = leaf.seqnos[i] as number
    if (i > 0) {
      const order = compareEntry(leaf.keys[i - 1] as Buffer, leaf.seqnos[i - 1] as number, key, seqno)
      assert(order < 0, 'leaf entries ascend')
    }
    if (low !== null) assert(compareEntry(low.key, low.seqno, key, seqno) <= 0, 'entry below its separator')
    if (high !== null) assert(compareEntry(key, seqno, high.key, high.seqno) < 0, 'entry past next separator')
  }
}

/** Moves the upper children of an overfull inner node to a new right sibling. */
function splitInner(inner: Inner, appending: boolean): Split {
  const children = inner.children.length
  // Separator `middle` moves up; the left node keeps children [0, middle].
  const middle = appending ? children - 2 : (children >>> 1) - 1
  assert(middle >= 1 && middle + 1 < children, 'split must leave both inner nodes with children')
  const right = new Inner()
  const key = inner.keys[middle] as Buffer
  const seqno = inner.seqnos[middle] as number
  right.keys = inner.keys.splice(middle + 1)
  right.seqnos = inner.seqnos.splice(middle + 1)
  right.children = inner.children.splice(middle + 1)
  inner.keys.length = middle
  inner.seqnos.length = middle
  assert(inner.keys.length === inner.children.length - 1, 'left separators and children agree')
  assert(right.keys.length === right.children.length - 1, 'right separators and children agree')
  return { key, seqno, right }
}

/**
 * A cursor over a BTree: the InternalIterator of the memtable. Positioning copies the
 * entry's fields, so the accessors stay correct even after inserts moved the entry inside
 * the tree; next()/prev() find the entry again first if its leaf changed.
 */
export class BTreeCursor implements InternalIterator {
  readonly #tree: BTree
  #leaf: Leaf | null = null
  #index = 0
  #version = 0
  #key: Buffer = Buffer.alloc(0)
  #seqno = 0
  #kind: KeyKind = 0
  #value: Buffer = Buffer.alloc(0)
  #closed = false

  constructor(tree: BTree) {
    this.#tree = tree
  }

  get valid(): boolean {
    return this.#leaf !== null
  }
  get key(): Buffer {
    assert(this.#leaf !== null, 'key requires a valid cursor')
    return this.#key
  }
  get seqno(): number {
    assert(this.#leaf !== null, 'seqno requires a valid cursor')
    return this.#seqno
  }
  get kind(): KeyKind {
    assert(this.#leaf !== null, 'kind requires a valid cursor')
    return this.#kind
  }
  get value(): Buffer {
    assert(this.#leaf !== null, 'value requires a valid cursor')
    return this.#value
  }

  seekGE(userKey: Uint8Array, seqno: number = MAX_SEQNO): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#tree.leafFor(userKey, seqno)
    this.#forwardFrom(leaf, search(leaf.keys, leaf.seqnos, userKey, seqno, false))
  }

  seekLT(userKey: Uint8Array): void {
    assert(!this.#closed, 'cursor used after close')
    // (userKey, MAX_SEQNO) precedes every entry of userKey, so what lies before it is < userKey.
    const leaf = this.#tree.leafFor(userKey, MAX_SEQNO)
    this.#backwardFrom(leaf, search(leaf.keys, leaf.seqnos, userKey, MAX_SEQNO, false) - 1)
  }

  first(): void {
    assert(!this.#closed, 'cursor used after close')
    this.#forwardFrom(this.#tree.firstLeaf, 0)
  }

  last(): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#tree.lastLeaf
    this.#backwardFrom(leaf, leaf.keys.length - 1)
  }

  next(): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#refind()
    this.#forwardFrom(leaf, this.#index + 1)
  }

  prev(): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#refind()
    this.#backwardFrom(leaf, this.#index - 1)
  }

  close(): void {
    this.#closed = true
    this.#leaf = null
  }

  /** The current leaf, after finding the current entry again if its leaf changed. */
  #refind(): Leaf {
    const leaf = this.#leaf
    assert(leaf !== null, 'next/prev require a valid cursor')
    if (leaf.version === this.#version) return leaf
    const found = this.#tree.leafFor(this.#key, this.#seqno)
    this.#index = search(found.keys, found.seqnos, this.#key, this.#seqno, false)
    assert(found.keys[this.#index] === this.#key, 'an entry never leaves the tree')
    assert(found.seqnos[this.#index] === this.#seqno, 'an entry never changes')
    return found
  }

  /** Lands on entry `index` of `leaf`, or the first entry after it in later leaves. */
  #forwardFrom(start: Leaf, index: number): void {
    let leaf: Leaf | null = start
    while (leaf !== null && index >= leaf.keys.length) {
      leaf = leaf.next
      index = 0
    }
    this.#land(leaf, index)
  }

  /** Lands on entry `index` of `leaf`, or the last entry before it in earlier leaves. */
  #backwardFrom(start: Leaf, index: number): void {
    let leaf: Leaf | null = start
    while (leaf !== null && index < 0) {
      leaf = leaf.prev
      index = leaf === null ? -1 : leaf.keys.length - 1
    }
    this.#land(leaf, index)
  }

  #land(leaf: Leaf | null, index: number): void {
    this.#leaf = leaf
    if (leaf === null) return
    assert(index >= 0 && index < leaf.keys.length, 'landing index inside the leaf')
    this.#index = index
    this.#version = leaf.version
    this.#key = leaf.keys[index] as Buffer
    this.#seqno = leaf.seqnos[index] as number
    this.#kind = leaf.kinds[index] as KeyKind
    this.#value = leaf.values[index] as Buffer
  }
}
