/**
 * Test doubles for the WAL layer: an in-memory WritableFile that counts appends and syncs and
 * can be told to fail, and small byte helpers to damage a log image.
 */
import type { WritableFile } from '../../src/engine/vfs/vfs.js'

export class RecordingFile implements WritableFile {
  data: Buffer
  appendCalls = 0
  syncCalls = 0
  closeCalls = 0
  /** When set, the next append writes this many bytes of its data and then throws. */
  failNextAppendAfterBytes: number | undefined = undefined
  failNextSync = false

  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.data = Buffer.from(initial)
  }

  get sizeBytes(): number {
    return this.data.length
  }

  append(data: Uint8Array): void {
    this.appendCalls++
    if (this.failNextAppendAfterBytes !== undefined) {
      const kept = data.subarray(0, this.failNextAppendAfterBytes)
      this.failNextAppendAfterBytes = undefined
      this.data = Buffer.concat([this.data, kept])
      throw Object.assign(new Error('simulated ENOSPC'), { code: 'ENOSPC' })
    }
    this.data = Buffer.concat([this.data, data])
  }

  async sync(): Promise<void> {
    this.syncCalls++
    if (this.failNextSync) {
      this.failNextSync = false
      throw Object.assign(new Error('simulated EIO'), { code: 'EIO' })
    }
  }

  async close(): Promise<void> {
    this.closeCalls++
  }
}

/** A copy of `data` with the byte at `offset` replaced by `f(old)`. */
export function withByte(data: Buffer, offset: number, f: (old: number) => number): Buffer {
  const out = Buffer.from(data)
  out[offset] = f(out[offset] as number) & 0xff
  return out
}

/** Bytes of `text` repeated to exactly `length` bytes (leveldb log_test BigString). */
export function bigRecord(text: string, length: number): Buffer {
  const out = Buffer.alloc(length)
  if (length > 0) out.fill(text)
  return out
}
