/**
 * MergingIterator: the union of several InternalIterators in internal order (leveldb
 * table/merger.cc, pebble merging_iter.go), by a binary heap of the children's current
 * entries. It does NO duplicate suppression: every entry of every child comes out once.
 *
 * Order: (user key ascending, seqno descending, kind descending, child index ascending). The
 * last component only matters if two children hold the same (key, seqno, kind), which the
 * engine never produces; it makes the merge deterministic anyway, and prev() walks exactly
 * the reverse of next().
 *
 * Direction (leveldb's approach): moving forward, every child sits on its first entry after
 * the current one, in a min-heap. Moving backward, every child sits on its last entry before
 * the current one, in a max-heap. A switch of direction re-seeks every child but the current.
 *
 * Invariants:
 * - The heap holds exactly the valid children, and its top is the current entry.
 * - After a child throws, the merged cursor is invalid until the next seek/first/last.
 * - close() closes every child once.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import type { KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from './internal-iterator.js'

const FORWARD = 1
const BACKWARD = -1

/** Merged order of children a and b at their current entries (both valid). */
function compareChildren(children: readonly InternalIterator[], a: number, b: number): number {
  const x = children[a] as InternalIterator
  const y = children[b] as InternalIterator
  const c = compareBytes(x.key, y.key)
  if (c !== 0) return c
  if (x.seqno !== y.seqno) return x.seqno > y.seqno ? -1 : 1
  if (x.kind !== y.kind) return y.kind - x.kind
  return a - b
}

export class MergingIterator implements InternalIterator {
  readonly #children: readonly InternalIterator[]
  /** Child indexes of the valid children, heap-ordered by #before. */
  readonly #heap: number[] = []
  #direction = FORWARD
  #closed = false

  constructor(children: InternalIterator[]) {
    this.#children = [...children]
  }

  get valid(): boolean {
    return this.#heap.length > 0
  }
  get key(): Buffer {
    return this.#top().key
  }
  get seqno(): number {
    return this.#top().seqno
  }
  get kind(): KeyKind {
    return this.#top().kind
  }
  get value(): Buffer {
    return this.#top().value
  }

  seekGE(userKey: Uint8Array, seqno?: number): void {
    this.#reposition(FORWARD, (child) => child.seekGE(userKey, seqno))
  }

  seekLT(userKey: Uint8Array): void {
    this.#reposition(BACKWARD, (child) => child.seekLT(userKey))
  }

  first(): void {
    this.#reposition(FORWARD, (child) => child.first())
  }

  last(): void {
    this.#reposition(BACKWARD, (child) => child.last())
  }

  next(): void {
    this.#checkOpen()
    assert(this.valid, 'next requires a valid iterator')
    this.#guard(() => {
      if (this.#direction !== FORWARD) this.#switchToForward()
      const current = this.#heap[0] as number
      const child = this.#children[current] as InternalIterator
      child.next()
      this.#replaceTop(child.valid)
    })
  }

  prev(): void {
    this.#checkOpen()
    assert(this.valid, 'prev requires a valid iterator')
    this.#guard(() => {
      if (this.#direction !== BACKWARD) this.#switchToBackward()
      const current = this.#heap[0] as number
      const child = this.#children[current] as InternalIterator
      child.prev()
      this.#replaceTop(child.valid)
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#heap.length = 0
    let failure: unknown = undefined
    for (const child of this.#children) {
      try {
        child.close()
      } catch (error) {
        failure ??= error
      }
    }
    if (failure !== undefined) throw failure
  }

  #checkOpen(): void {
    assert(!this.#closed, 'iterator used after close')
  }

  #top(): InternalIterator {
    assert(this.#heap.length > 0, 'accessor requires a valid iterator')
    return this.#children[this.#heap[0] as number] as InternalIterator
  }

  /** Positions every child with `position` and rebuilds the heap for `direction`. */
  #reposition(direction: number, position: (child: InternalIterator) => void): void {
    this.#checkOpen()
    this.#guard(() => {
      for (const child of this.#children) position(child)
      this.#rebuild(direction)
    })
  }

  /** Runs a step; if a child throws, leaves the merged cursor invalid and rethrows. */
  #guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#heap.length = 0
      throw error
    }
  }

  /**
   * Forward after backward: every other child moves to its first entry after the current
   * one. seekGE lands on the first entry >= (key, seqno); entries there that still come
   * before the current one in merged order (equal key and seqno, tie broken by kind or
   * index) are stepped over.
   */
  #switchToForward(): void {
    const current = this.#heap[0] as number
    const top = this.#children[current] as InternalIterator
    const key = top.key
    const seqno = top.seqno
    for (let i = 0; i < this.#children.length; i++) {
      if (i === current) continue
      const child = this.#children[i] as InternalIterator
      child.seekGE(key, seqno)
      while (child.valid && compareChildren(this.#children, i, current) < 0) child.next()
    }
    this.#rebuild(FORWARD)
    assert(this.#heap[0] === current, 'the current entry stays current across a switch')
  }

  /**
   * Backward after forward: every other child moves to its last entry before the current
   * one: first past it as in #switchToForward, then one step back (or to its last entry
   * when nothing in it follows the current one).
   */
  #switchToBackward(): void {
    const current = this.#heap[0] as number
    const top = this.#children[current] as InternalIterator
    const key = top.key
    const seqno = top.seqno
    for (let i = 0; i < this.#children.length; i++) {
      if (i === current) continue
      const child = this.#children[i] as InternalIterator
      child.seekGE(key, seqno)
      while (child.valid && compareChildren(this.#children, i, current) < 0) child.next()
      if (child.valid) child.prev()
      else child.last()
    }
    this.#rebuild(BACKWARD)
    assert(this.#heap[0] === current, 'the current entry stays current across a switch')
  }

  /** Whether child a's entry comes out before child b's in the current direction. */
  #before(a: number, b: number): boolean {
    return compareChildren(this.#children, a, b) * this.#direction < 0
  }

  #rebuild(direction: number): void {
    this.#direction = direction
    const heap = this.#heap
    heap.length = 0
    for (let i = 0; i < this.#children.length; i++) {
      if ((this.#children[i] as InternalIterator).valid) heap.push(i)
    }
    for (let i = (heap.length >>> 1) - 1; i >= 0; i--) this.#siftDown(i)
  }

  /** After the top child moved: sift it down, or drop it when it ran out. */
  #replaceTop(stillValid: boolean): void {
    const heap = this.#heap
    if (!stillValid) {
      const last = heap.pop() as number
      if (heap.length === 0) return
      heap[0] = last
    }
    this.#siftDown(0)
  }

  #siftDown(start: number): void {
    const heap = this.#heap
    const size = heap.length
    let index = start
    const moving = heap[index] as number
    for (;;) {
      let best = 2 * index + 1
      if (best >= size) break
      const right = best + 1
      if (right < size && this.#before(heap[right] as number, heap[best] as number)) best = right
      if (!this.#before(heap[best] as number, moving)) break
      heap[index] = heap[best] as number
      index = best
    }
    heap[index] = moving
  }
}
