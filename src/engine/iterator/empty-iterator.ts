/**
 * The empty iterator (leveldb NewEmptyIterator): never valid. Stands in for a source with no
 * entries (an empty level, a table with only range tombstones) so callers need no special case.
 */
import { assert } from '../base/assert.js'
import type { KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from './internal-iterator.js'

class EmptyIterator implements InternalIterator {
  #closed = false

  get valid(): boolean {
    return false
  }
  get key(): Buffer {
    return invalidAccess()
  }
  get seqno(): number {
    return invalidAccess()
  }
  get kind(): KeyKind {
    return invalidAccess()
  }
  get value(): Buffer {
    return invalidAccess()
  }

  seekGE(): void {
    this.#open()
  }
  seekLT(): void {
    this.#open()
  }
  first(): void {
    this.#open()
  }
  last(): void {
    this.#open()
  }
  next(): void {
    this.#open()
    assert(false, 'next requires a valid iterator')
  }
  prev(): void {
    this.#open()
    assert(false, 'prev requires a valid iterator')
  }
  close(): void {
    this.#closed = true
  }

  #open(): void {
    assert(!this.#closed, 'iterator used after close')
  }
}

function invalidAccess(): never {
  assert(false, 'accessor requires a valid iterator')
}

/** A fresh iterator with no entries; close() is idempotent as for every iterator. */
export function emptyIterator(): InternalIterator {
  return new EmptyIterator()
}

export { VectorIterator, type VectorEntry } from './vector-iterator.js'
