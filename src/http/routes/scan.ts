/**
 * GET /v1/trees/{tree}/scan (API.md, Keys): a page of items in key order (or reverse), within
 * `start` (inclusive), `end` (exclusive) and `prefix`, at a snapshot; `cursor` is in the answer
 * exactly when more items remain.
 *
 * Cursors (../cursor.ts) carry the first request's tree, treeId, seqno, bounds, direction, limit
 * and encoding, plus the last key returned; the next page starts just past that key at the same
 * seqno. A parameter repeated next to `cursor` must equal the cursor's (else INVALID_CURSOR).
 *
 * Snapshot: the first page reads at `seqno` or at the tree's newest seqno. When a cursor is
 * issued, its seqno is pinned (SnapshotRegistry, kind `cursor`) for cursorTtlSeconds, extended
 * by every page, so compaction keeps the history the cursor reads. The engine can pin only the
 * newest seqno: a scan at an older explicit `seqno` relies on a snapshot the client pinned
 * (POST /snapshots); without one, a compaction may make its cursor answer 410 SEQNO_UNAVAILABLE.
 *
 * Bounds on one answer: `limit` items and SCAN_PAGE_BYTES_MAX bytes of keys and values (at least
 * one item); the page stops early, with a cursor, at the byte bound.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import type { IteratorOptions, Tree } from '../../engine/index.js'
import { CursorCodec, type ScanCursor } from '../cursor.js'
import { checkKeyBytes, decodeText, encodeBytes, type Encoding } from '../encoding.js'
import { httpError } from '../errors.js'
import { SCAN_LIMIT_DEFAULT, SCAN_LIMIT_MAX, SCAN_PAGE_BYTES_MAX } from '../options.js'
import { requireTree } from '../plugins/catalog.js'
import { parseBoolean, parseUnsigned } from '../schemas/common.js'
import { scanSchema } from '../schemas/scan.js'

export interface ScanQuery {
  start?: string
  end?: string
  prefix?: string
  limit?: string
  reverse?: string
  seqno?: string
  encoding?: Encoding
  cursor?: string
}

export interface ScanRoutesOptions {
  cursorTtlSeconds: number
  /** HMAC key of the cursors (default: random per app). */
  cursorKey?: Uint8Array
}

/** A scan to run: bounds, direction, page size, encoding, seqno, and where the last page ended. */
export interface ScanPlan {
  start?: Buffer | undefined
  end?: Buffer | undefined
  prefix?: Buffer | undefined
  reverse: boolean
  limit: number
  encoding: Encoding
  seqno?: number | undefined
  after?: Buffer | undefined
}

function boundOf(text: string | undefined, encoding: Encoding, field: string): Buffer | undefined {
  if (text === undefined) return undefined
  const bytes = decodeText(text, encoding, field)
  // An empty bound is allowed (start= is every key, end= is no key); only the length is bounded.
  return bytes.length === 0 ? bytes : checkKeyBytes(bytes, field)
}

/** The plan of a first page, from its query. Pure. */
export function planFromQuery(q: ScanQuery): ScanPlan {
  const encoding = q.encoding ?? 'utf8'
  const limit = parseUnsigned(q.limit, 'limit') ?? SCAN_LIMIT_DEFAULT
  if (limit < 1 || limit > SCAN_LIMIT_MAX) throw httpError('VALIDATION_ERROR', `querystring/limit must be 1 to ${SCAN_LIMIT_MAX}`)
  return {
    start: boundOf(q.start, encoding, 'start'),
    end: boundOf(q.end, encoding, 'end'),
    prefix: boundOf(q.prefix, encoding, 'prefix'),
    reverse: parseBoolean(q.reverse) ?? false,
    limit,
    encoding,
    seqno: parseUnsigned(q.seqno, 'seqno'),
  }
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b)
}

/** The plan of a continued page: the cursor's, after checking the repeated parameters. Pure. */
export function planFromCursor(q: ScanQuery, c: ScanCursor): ScanPlan {
  const differs = (name: string) => httpError('INVALID_CURSOR', `parameter ${name} differs from the one the cursor was made with`)
  if (q.encoding !== undefined && q.encoding !== c.encoding) throw differs('encoding')
  for (const field of ['start', 'end', 'prefix'] as const) {
    if (q[field] !== undefined && !sameBytes(decodeText(q[field], c.encoding, field), c[field])) throw differs(field)
  }
  if (q.limit !== undefined && parseUnsigned(q.limit, 'limit') !== c.limit) throw differs('limit')
  if (q.reverse !== undefined && parseBoolean(q.reverse) !== c.reverse) throw differs('reverse')
  if (q.seqno !== undefined && parseUnsigned(q.seqno, 'seqno') !== c.seqno) throw differs('seqno')
  return { start: c.start, end: c.end, prefix: c.prefix, reverse: c.reverse, limit: c.limit, encoding: c.encoding, seqno: c.seqno, after: c.lastKey }
}

/** Engine iterator options for `plan` at `seqno`, reading one item more than a page. Pure. */
export function iteratorOptions(plan: ScanPlan, seqno: number): IteratorOptions {
  const o: IteratorOptions = { seqno, reverse: plan.reverse, limit: plan.limit + 1 }
  if (plan.start !== undefined) o.gte = plan.start
  if (plan.prefix !== undefined) o.prefix = plan.prefix
  if (!plan.reverse) {
    if (plan.end !== undefined) o.lt = plan.end
    if (plan.after !== undefined) o.gt = plan.after
  } else {
    // Going down, the last key returned is below `end`: it is the tighter upper bound.
    const upper = plan.after ?? plan.end
    if (upper !== undefined) o.lt = upper
  }
  return o
}

interface Page {
  entries: [Buffer, Buffer][]
  more: boolean
}

/** Reads one page (synchronously, so at one consistent view of the tree). */
function readPage(tree: Tree, plan: ScanPlan, seqno: number): Page {
  const it = tree.iterator(iteratorOptions(plan, seqno))
  const entries: [Buffer, Buffer][] = []
  let bytes = 0
  let more = false
  try {
    for (let e = it.next(); e !== undefined; e = it.next()) {
      const size = e[0].length + e[1].length
      if (entries.length === plan.limit || (entries.length > 0 && bytes + size > SCAN_PAGE_BYTES_MAX)) {
        more = true
        break
      }
      entries.push(e)
      bytes += size
    }
  } finally {
    it.close()
  }
  return { entries, more }
}

export const scanRoutes: FastifyPluginAsync<ScanRoutesOptions> = async (app: FastifyInstance, options) => {
  const codec = new CursorCodec(options.cursorKey)
  const cursorTtlMs = options.cursorTtlSeconds * 1000

  app.get<{ Params: { tree: string }; Querystring: ScanQuery }>(
    '/v1/trees/:tree/scan',
    { schema: scanSchema, config: { role: 'read' } },
    async (request, reply) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const q = request.query
      let plan: ScanPlan
      if (q.cursor !== undefined) {
        const cursor = codec.decode(q.cursor)
        if (cursor.tree !== name || cursor.treeId !== tree.treeId) throw httpError('INVALID_CURSOR', 'the cursor was made for another tree')
        plan = planFromCursor(q, cursor)
      } else {
        plan = planFromQuery(q)
      }
      const seqno = plan.seqno ?? tree.seqno
      const page = readPage(tree, plan, seqno)
      const items = page.entries.map(([key, value]) => ({ key: encodeBytes(key, plan.encoding, 'key'), value: encodeBytes(value, plan.encoding, 'value') }))
      app.metrics.treeReads(name)
      reply.header('x-seqno', String(seqno))
      if (!page.more) return { items }
      // Still the same synchronous turn as the read: the tree's newest seqno has not moved.
      if (!app.snapshots.extend(name, tree.treeId, 'cursor', seqno, cursorTtlMs) && seqno === tree.seqno) {
        app.snapshots.pinCurrent(name, tree, 'cursor', cursorTtlMs) // full: the cursor goes on unpinned
      }
      const lastKey = page.entries[page.entries.length - 1]![0]
      const cursor = codec.encode({ tree: name, treeId: tree.treeId, seqno, lastKey, start: plan.start, end: plan.end, prefix: plan.prefix, reverse: plan.reverse, limit: plan.limit, encoding: plan.encoding })
      return { items, cursor }
    },
  )
}
