/**
 * The properties block: facts about a table, as tagged records so later versions can add
 * properties that older readers skip.
 *
 *   +-----------------+--------------------+------------------+-----+
 *   | tag varint      | value length varint| value bytes      | ... |   until the block ends
 *   +-----------------+--------------------+------------------+-----+
 *   tags strictly increasing; numbers are one varint filling the value; keys are raw bytes;
 *   strings are UTF-8. Unknown tags are skipped; every tag of PropertyTag is required.
 *
 * Invariants: smallestSeqno <= largestSeqno; smallestKey <= largestKey (user keys, including
 * range tombstone extents); entries + rangeTombstones >= 1 (no empty tables). Checked before
 * encoding (assert) and after decoding (CORRUPTION naming the file and block offset).
 */
import { assert } from '../base/assert.js'
import { ByteReader, ByteWriter, DecodeError, varintLength } from '../base/coding.js'
import { KEY_BYTES_MAX } from '../base/internal-key.js'
import { corruption } from '../errors.js'

export interface TableProperties {
  formatVersion: number
  fileNumber: number
  /** Point entries (all kinds). */
  entries: number
  /** Stored range tombstones: one per (fragment, seqno) pair. */
  rangeTombstones: number
  dataBlocks: number
  /** Sum of user key lengths of the point entries. */
  rawKeyBytes: number
  /** Sum of value lengths of the point entries. */
  rawValueBytes: number
  smallestSeqno: number
  largestSeqno: number
  /** Smallest user key of any point entry or range tombstone start. */
  smallestKey: Buffer
  /** Largest user key of any point entry or range tombstone end. */
  largestKey: Buffer
  /** Compression the writer was configured with ('none' | 'zstd'); blocks may still be raw. */
  compression: string
  creationTimeMs: number
}

/** DO NOT CHANGE: on disk (property tags). */
export const PropertyTag = {
  FormatVersion: 1,
  FileNumber: 2,
  Entries: 3,
  RangeTombstones: 4,
  DataBlocks: 5,
  RawKeyBytes: 6,
  RawValueBytes: 7,
  SmallestSeqno: 8,
  LargestSeqno: 9,
  SmallestKey: 10,
  LargestKey: 11,
  Compression: 12,
  CreationTimeMs: 13,
} as const

type NumberField = Exclude<keyof TableProperties, 'smallestKey' | 'largestKey' | 'compression'>
const NUMBER_TAGS: ReadonlyArray<[number, NumberField]> = [
  [PropertyTag.FormatVersion, 'formatVersion'],
  [PropertyTag.FileNumber, 'fileNumber'],
  [PropertyTag.Entries, 'entries'],
  [PropertyTag.RangeTombstones, 'rangeTombstones'],
  [PropertyTag.DataBlocks, 'dataBlocks'],
  [PropertyTag.RawKeyBytes, 'rawKeyBytes'],
  [PropertyTag.RawValueBytes, 'rawValueBytes'],
  [PropertyTag.SmallestSeqno, 'smallestSeqno'],
  [PropertyTag.LargestSeqno, 'largestSeqno'],
]
/** Compression names are short identifiers. */
const COMPRESSION_NAME_BYTES_MAX = 64
const TAG_COUNT = Object.keys(PropertyTag).length

export function encodeProperties(p: TableProperties): Buffer {
  checkInvariants(p, (message) => assert(false, `properties: ${message}`))
  const w = new ByteWriter(128)
  for (const [tag, field] of NUMBER_TAGS) {
    const value = p[field]
    assert(Number.isSafeInteger(value) && value >= 0, `property ${field} must be a non-negative integer`)
    w.varint(tag).varint(varintLength(value)).varint(value)
  }
  w.varint(PropertyTag.SmallestKey).lengthPrefixed(p.smallestKey)
  w.varint(PropertyTag.LargestKey).lengthPrefixed(p.largestKey)
  w.varint(PropertyTag.Compression).string(p.compression)
  w.varint(PropertyTag.CreationTimeMs).varint(varintLength(p.creationTimeMs)).varint(p.creationTimeMs)
  return w.finish()
}

/** Decodes and validates a properties block; CORRUPTION naming the file and block offset. */
export function decodeProperties(raw: Buffer, fileName: string, blockOffset: number): TableProperties {
  let p: Partial<TableProperties>
  try {
    p = decodeRecords(raw)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    throw corruption(`bad properties block: ${err.message}`, fileName, blockOffset, err)
  }
  const fail = (message: string): never => {
    throw corruption(`bad properties block: ${message}`, fileName, blockOffset)
  }
  for (const [, field] of NUMBER_TAGS) if (p[field] === undefined) fail(`missing ${field}`)
  if (p.smallestKey === undefined || p.largestKey === undefined) fail('missing key range')
  if (p.compression === undefined || p.creationTimeMs === undefined) fail('missing compression or time')
  const props = p as TableProperties
  checkInvariants(props, fail)
  return props
}

function decodeRecords(raw: Buffer): Partial<TableProperties> {
  const r = new ByteReader(raw)
  const p: Partial<TableProperties> = {}
  const numberFields = new Map<number, NumberField>(NUMBER_TAGS)
  numberFields.set(PropertyTag.CreationTimeMs, 'creationTimeMs')
  let lastTag = 0
  while (!r.done) {
    const tag = r.varint()
    if (tag <= lastTag) throw new DecodeError(`property tag ${tag} out of order`, r.pos)
    lastTag = tag
    const value = r.lengthPrefixed(raw.length)
    const numberField = numberFields.get(tag)
    if (numberField !== undefined) {
      const vr = new ByteReader(value)
      p[numberField] = vr.varint()
      if (!vr.done) throw new DecodeError(`property ${numberField} has trailing bytes`, r.pos)
    } else if (tag === PropertyTag.SmallestKey || tag === PropertyTag.LargestKey) {
      if (value.length > KEY_BYTES_MAX) throw new DecodeError('key property over KEY_BYTES_MAX', r.pos)
      p[tag === PropertyTag.SmallestKey ? 'smallestKey' : 'largestKey'] = Buffer.from(value)
    } else if (tag === PropertyTag.Compression) {
      if (value.length > COMPRESSION_NAME_BYTES_MAX) throw new DecodeError('compression name too long', r.pos)
      p.compression = value.toString('utf8')
    }
    // Any other tag is a newer writer's property: skipped.
  }
  return p
}

function checkInvariants(p: TableProperties, fail: (message: string) => void): void {
  if (p.smallestSeqno > p.largestSeqno) fail('smallestSeqno > largestSeqno')
  if (Buffer.compare(p.smallestKey, p.largestKey) > 0) fail('smallestKey > largestKey')
  if (p.entries + p.rangeTombstones < 1) fail('empty table')
  if (p.dataBlocks === 0 && p.entries > 0) fail('entries without data blocks')
  if (p.smallestKey.length > KEY_BYTES_MAX || p.largestKey.length > KEY_BYTES_MAX) fail('key over KEY_BYTES_MAX')
}

assert(TAG_COUNT === NUMBER_TAGS.length + 4, 'every property tag is encoded')
