/**
 * BTree: the memtable's ordered structure, an in-memory B+tree of point entries (user key,
 * seqno, kind, value) in internal order: user key ascending (bytewise), seqno descending.
 * Chosen over a skiplist and a sorted array by bench/memtable-structures.ts (numbers and
 * reasons in docs/memtable.md): at 1 M entries it inserts ~2x, looks up 2-3x and scans ~2x
 * faster than a skiplist and uses ~2.4x less heap, because a leaf keeps 64 key pointers in
 * one array instead of one heap node (and one cache miss) per entry.
 *
 * Shape: inner nodes hold separators and children; leaves hold parallel arrays (record
 * references, seqnos, kinds) and are doubly linked, so a scan or a prev() never climbs the
 * tree. Keys and values live in the tree's Arena (arena.ts): insert copies them there, and a
 * reference (a number) stands for both, so an entry costs its bytes plus three array slots.
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
 * - Keys and values are copied into the arena on insert; the caller keeps its buffers. Views
 *   handed out (cursor key/value, visitKey's data) are into the arena: read-only, valid as
 *   long as the tree.
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
import { Arena, keyLengthAt, RECORD_HEADER_BYTES, valueLengthAt } from './arena.js'

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

/** `refs` are arena references: each one is an entry's key (and value). */
class Leaf {
  refs: number[] = []
  seqnos: number[] = []
  kinds: KeyKind[] = []
  next: Leaf | null = null
  prev: Leaf | null = null
  version = 0
}

/** Separator i is (key of refs[i], seqnos[i]): the smallest entry under children[i + 1]. */
class Inner {
  refs: number[] = []
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
  arena: Arena, refs: number[], seqnos: number[], key: Uint8Array, seqno: number, upper: boolean,
): number {
  let low = 0
  let high = refs.length
  while (low < high) {
    const mid = (low + high) >>> 1
    let c = arena.compareKey(refs[mid] as number, key)
    if (c === 0) {
      const s = seqnos[mid] as number
      c = s === seqno ? 0 : s > seqno ? -1 : 1
    }
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
interface Split { ref: number; seqno: number; right: Leaf | Inner }

export class BTree {
  readonly #arena = new Arena()
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

  /** The arena holding every key and value. */
  get arena(): Arena {
    return this.#arena
  }

  /**
   * Adds an entry, copying key and value into the arena. Requires: no entry with the same
   * (key, seqno). O(log n).
   */
  insert(key: Uint8Array, seqno: number, kind: KeyKind, value: Uint8Array): void {
    let leaf: Leaf
    let at: number
    if (this.#followsLast(key, seqno)) {
      // Keys in order (fillseq, a sorted batch): one compare instead of a descent.
      leaf = this.#rightmostPath()
      at = leaf.refs.length
    } else {
      leaf = this.#descend(key, seqno, true)
      at = search(this.#arena, leaf.refs, leaf.seqnos, key, seqno, false)
      const duplicate = at < leaf.refs.length && leaf.seqnos[at] === seqno &&
        this.#arena.compareKey(leaf.refs[at] as number, key) === 0
      assert(!duplicate, 'duplicate (user key, seqno) in the memtable')
    }
    const appending = at === leaf.refs.length && leaf === this.#lastLeaf
    const ref = this.#arena.append(key, value)
    if (at === leaf.refs.length) {
      leaf.refs.push(ref)
      leaf.seqnos.push(seqno)
      leaf.kinds.push(kind)
    } else {
      leaf.refs.splice(at, 0, ref)
      leaf.seqnos.splice(at, 0, seqno)
      leaf.kinds.splice(at, 0, kind)
    }
    leaf.version++
    this.#count++
    if (leaf.refs.length <= LEAF_ENTRIES_MAX) return
    this.#splitUpwards(this.#splitLeaf(leaf, appending), appending)
  }

  /**
   * Offers `visitor` the entries of `key` with seqno <= `seqno`, newest first, until it
   * declines one or they run out. No cursor and no allocation (Tree.get's path).
   */
  visitKey(key: Uint8Array, seqno: number, visitor: PointVisitor): void {
    const arena = this.#arena
    let leaf: Leaf | null = this.#descend(key, seqno, false)
    let index = search(arena, leaf.refs, leaf.seqnos, key, seqno, false)
    while (leaf !== null) {
      if (index >= leaf.refs.length) {
        leaf = leaf.next
        index = 0
        continue
      }
      const ref = leaf.refs[index] as number
      if (arena.compareKey(ref, key) !== 0) return
      const slab = arena.slab(ref)
      const at = arena.offset(ref)
      const start = at + RECORD_HEADER_BYTES + keyLengthAt(slab, at)
      const end = start + valueLengthAt(slab, at)
      if (!visitor.offer(leaf.seqnos[index] as number, leaf.kinds[index] as KeyKind, slab, start, end)) return
      index++
    }
  }

  /** A new cursor, positioned nowhere (invalid) until a positioning call. */
  cursor(): BTreeCursor {
    return new BTreeCursor(this)
  }

  /** True when (key, seqno) comes after every entry in internal order (a non-empty tree). */
  #followsLast(key: Uint8Array, seqno: number): boolean {
    const last = this.#lastLeaf
    const n = last.refs.length
    if (n === 0) return false
    const c = this.#arena.compareKey(last.refs[n - 1] as number, key)
    return c < 0 || (c === 0 && (last.seqnos[n - 1] as number) > seqno)
  }

  /** Records the path to the last leaf (every last child: no compares) and returns that leaf. */
  #rightmostPath(): Leaf {
    let node = this.#root
    for (let depth = 0; depth < this.#innerDepth; depth++) {
      const inner = node as Inner
      const index = inner.children.length - 1
      this.#pathNodes[depth] = inner
      this.#pathIndexes[depth] = index
      node = inner.children[index] as Leaf | Inner
    }
    assert(node === this.#lastLeaf, 'the rightmost path ends on the last leaf')
    return node
  }

  /** The leaf where (key, seqno) is or would be inserted. Records the path when asked. */
  #descend(key: Uint8Array, seqno: number, recordPath: boolean): Leaf {
    let node = this.#root
    for (let depth = 0; depth < this.#innerDepth; depth++) {
      const inner = node as Inner
      const index = search(this.#arena, inner.refs, inner.seqnos, key, seqno, true)
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
    const keep = appending ? leaf.refs.length - 1 : leaf.refs.length >>> 1
    assert(keep >= 1 && keep < leaf.refs.length, 'split must leave both leaves non-empty')
    const right = new Leaf()
    right.refs = leaf.refs.splice(keep)
    right.seqnos = leaf.seqnos.splice(keep)
    right.kinds = leaf.kinds.splice(keep)
    right.prev = leaf
    right.next = leaf.next
    if (leaf.next !== null) leaf.next.prev = right
    else this.#lastLeaf = right
    leaf.next = right
    leaf.version++
    return { ref: right.refs[0] as number, seqno: right.seqnos[0] as number, right }
  }

  /** Inserts the separator of a split into the recorded path, splitting inner nodes as needed. */
  #splitUpwards(first: Split, appending: boolean): void {
    let split = first
    for (let depth = this.#innerDepth - 1; depth >= 0; depth--) {
      const inner = this.#pathNodes[depth] as Inner
      const index = this.#pathIndexes[depth] as number
      inner.refs.splice(index, 0, split.ref)
      inner.seqnos.splice(index, 0, split.seqno)
      inner.children.splice(index + 1, 0, split.right)
      if (inner.children.length <= INNER_CHILDREN_MAX) return
      split = splitInner(inner, appending && index + 2 === inner.children.length)
    }
    const root = new Inner()
    root.refs.push(split.ref)
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
        assertLeafOrder(this.#arena, node, low, high)
        assert(node.refs.length > 0 || this.#count === 0, 'only an empty tree has an empty leaf')
        previous = node
        leaves++
        entries += node.refs.length
        return
      }
      assert(node instanceof Inner, 'inner nodes above the leaves')
      assert(node.refs.length === node.children.length - 1, 'separators and children agree')
      node.children.forEach((child, i) => {
        const childLow = i === 0 ? low : separatorAt(this.#arena, node, i - 1)
        visit(child, depth + 1, childLow, i === node.refs.length ? high : separatorAt(this.#arena, node, i))
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

function separatorAt(arena: Arena, node: Inner, index: number): Bound {
  return { key: arena.key(node.refs[index] as number), seqno: node.seqnos[index] as number }
}

/** Entries of a leaf ascend strictly and lie in [low, high) (separators of its parents). */
function assertLeafOrder(arena: Arena, leaf: Leaf, low: Bound | null, high: Bound | null): void {
  for (let i = 0; i < leaf.refs.length; i++) {
    const key = arena.key(leaf.refs[i] as number)
    const seqno = leaf.seqnos[i] as number
    if (i > 0) {
      const order = compareEntry(arena.key(leaf.refs[i - 1] as number), leaf.seqnos[i - 1] as number, key, seqno)
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
  const ref = inner.refs[middle] as number
  const seqno = inner.seqnos[middle] as number
  right.refs = inner.refs.splice(middle + 1)
  right.seqnos = inner.seqnos.splice(middle + 1)
  right.children = inner.children.splice(middle + 1)
  inner.refs.length = middle
  inner.seqnos.length = middle
  assert(inner.refs.length === inner.children.length - 1, 'left separators and children agree')
  assert(right.refs.length === right.children.length - 1, 'right separators and children agree')
  return { ref, seqno, right }
}

/**
 * A cursor over a BTree: the InternalIterator of the memtable. Positioning copies the
 * entry's fields (its arena reference, seqno and kind), so the accessors stay correct even
 * after inserts moved the entry inside the tree; next()/prev() find the entry again first if
 * its leaf changed. key and value are arena views made on first use after each positioning.
 */
export class BTreeCursor implements InternalIterator {
  readonly #tree: BTree
  readonly #arena: Arena
  #leaf: Leaf | null = null
  #index = 0
  #version = 0
  #ref = 0
  #seqno = 0
  #kind: KeyKind = 0
  #key: Buffer | undefined = undefined
  #value: Buffer | undefined = undefined
  #closed = false

  constructor(tree: BTree) {
    this.#tree = tree
    this.#arena = tree.arena
  }

  get valid(): boolean {
    return this.#leaf !== null
  }
  get key(): Buffer {
    assert(this.#leaf !== null, 'key requires a valid cursor')
    this.#key ??= this.#arena.key(this.#ref)
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
    this.#value ??= this.#arena.value(this.#ref)
    return this.#value
  }

  seekGE(userKey: Uint8Array, seqno: number = MAX_SEQNO): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#tree.leafFor(userKey, seqno)
    this.#forwardFrom(leaf, search(this.#arena, leaf.refs, leaf.seqnos, userKey, seqno, false))
  }

  seekLT(userKey: Uint8Array): void {
    assert(!this.#closed, 'cursor used after close')
    // (userKey, MAX_SEQNO) precedes every entry of userKey, so what lies before it is < userKey.
    const leaf = this.#tree.leafFor(userKey, MAX_SEQNO)
    this.#backwardFrom(leaf, search(this.#arena, leaf.refs, leaf.seqnos, userKey, MAX_SEQNO, false) - 1)
  }

  first(): void {
    assert(!this.#closed, 'cursor used after close')
    this.#forwardFrom(this.#tree.firstLeaf, 0)
  }

  last(): void {
    assert(!this.#closed, 'cursor used after close')
    const leaf = this.#tree.lastLeaf
    this.#backwardFrom(leaf, leaf.refs.length - 1)
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
    const key = this.#arena.key(this.#ref)
    const found = this.#tree.leafFor(key, this.#seqno)
    this.#index = search(this.#arena, found.refs, found.seqnos, key, this.#seqno, false)
    assert(found.refs[this.#index] === this.#ref, 'an entry never leaves the tree')
    assert(found.seqnos[this.#index] === this.#seqno, 'an entry never changes')
    return found
  }

  /** Lands on entry `index` of `leaf`, or the first entry after it in later leaves. */
  #forwardFrom(start: Leaf, index: number): void {
    let leaf: Leaf | null = start
    while (leaf !== null && index >= leaf.refs.length) {
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
      index = leaf === null ? -1 : leaf.refs.length - 1
    }
    this.#land(leaf, index)
  }

  #land(leaf: Leaf | null, index: number): void {
    this.#leaf = leaf
    if (leaf === null) return
    assert(index >= 0 && index < leaf.refs.length, 'landing index inside the leaf')
    this.#index = index
    this.#version = leaf.version
    this.#ref = leaf.refs[index] as number
    this.#seqno = leaf.seqnos[index] as number
    this.#kind = leaf.kinds[index] as KeyKind
    this.#key = undefined
    this.#value = undefined
  }
}
