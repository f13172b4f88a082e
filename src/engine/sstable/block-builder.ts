/**
 * BlockBuilder: builds one data or index block in the LevelDB block format
 * (leveldb table/block_builder.cc shape), keys being encoded internal keys.
 *
 *   +---------+---------+-----+---------+---------------------+--------------------+
 *   | entry 0 | entry 1 | ... | entry n | restarts u32 LE * r | restart count u32  |
 *   +---------+---------+-----+---------+---------------------+--------------------+
 *   entry = shared varint | unshared varint | value length varint | key delta | value
 *   - shared: bytes of the key in common with the previous key (0 at a restart point)
 *   - a restart point every `restartInterval` entries (16 for data, 1 for index blocks);
 *     restarts[i] = offset of the i-th restart entry; restarts[0] = 0; r >= 1
 *
 * Invariants:
 * - Keys are encoded internal keys (>= 8 bytes), added in strictly increasing internal order.
 * - An empty block is valid: no entries, restarts = [0], count 1 (8 bytes).
 * - Protocol: (add* finish reset)*. finish() returns a view valid until reset().
 */
import { assert } from '../base/assert.js'
import { ByteWriter } from '../base/coding.js'
import { compareInternalKeys, TRAILER_BYTES } from '../base/internal-key.js'

/** Restart intervals above this make seeks scan long runs; leveldb uses 16. */
export const RESTART_INTERVAL_MAX = 1024

export class BlockBuilder {
  private writer: ByteWriter
  private readonly restarts: number[] = [0]
  private sinceRestart = 0
  private entries = 0
  private lastKeyBuffer: Buffer = Buffer.alloc(64)
  private lastKeyLength = 0
  private finished = false

  constructor(readonly restartInterval: number, private readonly initialBytes = 4096) {
    assert(Number.isInteger(restartInterval), 'restart interval must be an integer')
    assert(restartInterval >= 1 && restartInterval <= RESTART_INTERVAL_MAX, 'restart interval out of range')
    this.writer = new ByteWriter(initialBytes)
  }

  get entryCount(): number {
    return this.entries
  }

  get isEmpty(): boolean {
    return this.entries === 0
  }

  /** Size the block would have if finished now. */
  get estimatedBytes(): number {
    return this.writer.length + 4 * this.restarts.length + 4
  }

  /** The last key added (a view, valid until the next add or reset). */
  get lastKey(): Buffer {
    assert(this.entries > 0, 'no key added yet')
    return this.lastKeyBuffer.subarray(0, this.lastKeyLength)
  }

  /** Requires: not finished; key > every key added since reset(), in internal order. */
  add(key: Buffer, value: Uint8Array): void {
    assert(!this.finished, 'add after finish without reset')
    assert(key.length >= TRAILER_BYTES, 'block keys are internal keys')
    let shared = 0
    if (this.entries > 0) {
      assert(compareInternalKeys(key, this.lastKey) > 0, 'block keys must be strictly increasing')
    }
    if (this.sinceRestart < this.restartInterval) {
      const limit = Math.min(this.lastKeyLength, key.length)
      while (shared < limit && this.lastKeyBuffer[shared] === key[shared]) shared++
    } else {
      this.restarts.push(this.writer.length)
      this.sinceRestart = 0
    }
    this.writer.varint(shared).varint(key.length - shared).varint(value.length)
    this.writer.bytes(key.subarray(shared)).bytes(value)
    this.rememberLastKey(key)
    this.sinceRestart++
    this.entries++
  }

  /** Appends the restart array; returns the block (a view valid until reset()). */
  finish(): Buffer {
    assert(!this.finished, 'finish called twice')
    assert(this.restarts[0] === 0, 'first restart at offset 0')
    for (const r of this.restarts) this.writer.u32(r)
    this.writer.u32(this.restarts.length)
    this.finished = true
    return this.writer.finish()
  }

  reset(): void {
    this.writer = new ByteWriter(this.initialBytes)
    this.restarts.length = 1
    this.sinceRestart = 0
    this.entries = 0
    this.lastKeyLength = 0
    this.finished = false
    assert(this.restarts[0] === 0, 'restart array reset to [0]')
  }

  private rememberLastKey(key: Buffer): void {
    if (key.length > this.lastKeyBuffer.length) {
      this.lastKeyBuffer = Buffer.alloc(Math.max(key.length, 2 * this.lastKeyBuffer.length))
    }
    key.copy(this.lastKeyBuffer, 0)
    this.lastKeyLength = key.length
  }
}
