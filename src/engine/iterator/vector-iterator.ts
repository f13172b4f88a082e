/**
 * VectorIterator: an InternalIterator over a sorted array of entries held in memory. Used by
 * tests everywhere, and by code that already holds a small sorted run (e.g. a decoded batch).
 *
 * Invariants: the entries are in strictly increasing internal order (user key ascending,
 * seqno descending, no repeated (key, seqno)); this is checked once at construction. The
 * array and its Buffers are shared, never copied, and must not change while iterated.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import { MAX_SEQNO, type KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from './internal-iterator.js'

export interface VectorEntry {
  key: Buffer
  seqno: number
  kind: KeyKind
  value: Buffer
}

/** Internal order of two (key, seqno) pairs: negative when a comes first. */
function compareEntry(aKey: Uint8Array, aSeqno: number, bKey: Uint8Array, bSeqno: number): number {
  const c = compareBytes(aKey, bKey)
  if (c !== 0) return c
  return aSeqno === bSeqno ? 0 : aSeqno > bSeqno ? -1 : 1
}

export class VectorIterator implements InternalIterator {
  readonly #entries: readonly VectorEntry[]
  /** Current index; -1 or entries.length when invalid. */
  #index = -1
  #closed = false

  constructor(entries: readonly VectorEntry[]) {
    for (let i = 1; i < entries.length; i++) {
      const a = entries[i - 1] as VectorEntry
      const b = entries[i] as VectorEntry
      assert(compareEntry(a.key, a.seqno, b.key, b.seqno) < 0, 'entries must ascend in internal order')
    }
    this.#entries = entries
  }

  get valid(): boolean {
    return this.#index >= 0 && this.#index < this.#entries.length
  }
  get key(): Buffer {
    return this.#current().key
  }
  get seqno(): number {
    return this.#current().seqno
  }
  get kind(): KeyKind {
    return this.#current().kind
  }
  get value(): Buffer {
    return this.#current().value
  }

  seekGE(userKey: Uint8Array, seqno: number = MAX_SEQNO): void {
    this.#open()
    this.#index = this.#lowerBound(userKey, seqno)
  }

  seekLT(userKey: Uint8Array): void {
    this.#open()
    this.#index = this.#lowerBound(userKey, MAX_SEQNO) - 1
  }

  first(): void {
    this.#open()
    this.#index = 0
  }

  last(): void {
    this.#open()
    this.#index = this.#entries.length - 1
  }

  next(): void {
    this.#open()
    assert(this.valid, 'next requires a valid iterator')
    this.#index++
  }

  prev(): void {
    this.#open()
    assert(this.valid, 'prev requires a valid iterator')
    this.#index--
  }

  close(): void {
    this.#closed = true
    this.#index = -1
  }

  #open(): void {
    assert(!this.#closed, 'iterator used after close')
  }

  #current(): VectorEntry {
    assert(this.valid, 'accessor requires a valid iterator')
    return this.#entries[this.#index] as VectorEntry
  }

  /** First index whose entry is >= (key, seqno). */
  #lowerBound(key: Uint8Array, seqno: number): number {
    let low = 0
    let high = this.#entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      const entry = this.#entries[mid] as VectorEntry
      if (compareEntry(entry.key, entry.seqno, key, seqno) < 0) low = mid + 1
      else high = mid
    }
    return low
  }
}
