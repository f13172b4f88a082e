/**
 * The leader's replication routes (API.md "Replication"; protocol in docs/replication.md),
 * every one needing the admin role:
 *
 * - GET  .../replication/state                   treeId, versionId, seqnos, epoch
 * - GET  .../replication/delta?since=&wait=      composed delta, its added files leased;
 *                                                long-polls up to `wait` ms (<= 30,000) for a
 *                                                newer version; 410 VERSION_GONE
 * - GET  .../replication/files/{tables|blobs}/{id}  the file's bytes, streamed in chunks
 *                                                (never buffered whole), quoted ETag = its
 *                                                CRC-32C, single `Range` (206, 416), If-Range
 * - DELETE .../replication/leases/{leaseId}      204; 404 LEASE_NOT_FOUND once gone
 * - GET  .../replication/wal?since=              framed stream of committed batches
 *                                                (src/replication/wal-wire.ts), heartbeats
 *                                                when idle, END frame with the reason it ends
 *
 * File and WAL streams stop reading the engine when the client goes away (the stream is
 * destroyed: the file is closed and unpinned, the WAL subscription dropped). File bytes spend
 * the server's transfer budget (`--max-transfer-mbps`) when one is set.
 */
import { Readable } from 'node:stream'

import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import { Counter } from 'prom-client'

import { DELTA_WAIT_MS_MAX, isStrataError, type ReplicationFile, type Tree } from '../../engine/index.js'
import { deltaToWire, etagOf, stateToWire } from '../../replication/protocol.js'
import type { RateLimiter } from '../../replication/rate-limit.js'
import { FrameType, WAL_STREAM_CONTENT_TYPE, WAL_STREAM_FORMAT, encodeRecordFrames, jsonFrame } from '../../replication/wal-wire.js'
import { httpError } from '../errors.js'
import { requireTree } from '../plugins/catalog.js'
import { parseUnsigned } from '../schemas/common.js'
import { releaseLeaseSchema, replicationDeltaSchema, replicationFileSchema, replicationStateSchema, replicationWalSchema } from '../schemas/replication.js'

/** Bytes per read of a served file: one chunk in flight per stream. */
export const FILE_CHUNK_BYTES = 256 * 1024
/** An idle WAL stream sends a heartbeat this often (followers drop a link silent for 5x). */
export const WAL_HEARTBEAT_MS = 2_000

export interface ReplicationRoutesOptions {
  /** Shared transfer budget for file streams (`--max-transfer-mbps`). */
  limiter?: RateLimiter
  /** Lease lifetime override (tests; default the tree's, 60 s). */
  leaseTtlMs?: number
}

interface TreeParams {
  tree: string
}

/** A single byte range of a `size`-byte file, or 'unsatisfiable', or undefined (whole file). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined // several ranges or another unit: RFC 9110 lets us ignore it
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable'
  return { start, end }
}

/** The bytes [start, end] of `file`, read in chunks; closes (and unpins) the file at the end. */
function fileStream(file: ReplicationFile, start: number, end: number, limiter: RateLimiter | undefined): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (let offset = start; offset <= end; offset += FILE_CHUNK_BYTES) {
        const length = Math.min(FILE_CHUNK_BYTES, end + 1 - offset)
        if (limiter !== undefined) await limiter.take(length)
        yield file.readAt(offset, length)
      }
    } finally {
      await file.close()
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: FILE_CHUNK_BYTES })
}

/**
 * The WAL stream's frames: HELLO, records (heartbeats while idle), END on an error. The
 * records committed since the last write go out as one chunk (one socket write, one `data`
 * event on the follower) rather than one per record. Backpressure: the body is pulled only
 * while the socket drains, so a slow reader leaves records in its bounded subscription queue
 * (wal-feed.ts), which ends the stream with WAL_GONE once full.
 */
async function* walFrames(tree: Tree, since: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  const state = tree.replication.state()
  yield jsonFrame(FrameType.Hello, since, { format: WAL_STREAM_FORMAT, treeId: state.treeId, epoch: state.epoch, epochStartSeqno: state.epochStartSeqno })
  let batches
  try {
    batches = tree.replication.walBatches(since, signal)
  } catch (error) {
    yield endFrame(since, error)
    return
  }
  let last = since
  let pending = batches.next()
  let timer: NodeJS.Timeout | undefined
  try {
    for (;;) {
      const beat = new Promise<'beat'>((resolve) => {
        timer = setTimeout(() => resolve('beat'), WAL_HEARTBEAT_MS)
      })
      const next = await Promise.race([pending, beat])
      clearTimeout(timer)
      if (next === 'beat') {
        const s = tree.replication.state()
        yield jsonFrame(FrameType.Heartbeat, s.seqno, { tablesSeqno: s.tablesSeqno, versionId: s.versionId })
        continue
      }
      if (next.done === true) return
      last = next.value[next.value.length - 1]!.seqno
      yield encodeRecordFrames(next.value)
      pending = batches.next()
    }
  } catch (error) {
    yield endFrame(last, error)
  } finally {
    clearTimeout(timer)
    void batches.return(undefined).catch(() => undefined)
  }
}

function endFrame(seqno: number, error: unknown): Buffer {
  const code = isStrataError(error) ? error.code : 'INTERNAL'
  const message = isStrataError(error) ? error.message : 'internal server error'
  return jsonFrame(FrameType.End, seqno, { code, message })
}

/** Aborts when the client goes away (or the answer is done). */
function abortOnClose(reply: FastifyReply): AbortController {
  const ac = new AbortController()
  reply.raw.once('close', () => ac.abort())
  return ac
}

export const replicationRoutes: FastifyPluginAsync<ReplicationRoutesOptions> = async (app: FastifyInstance, options) => {
  const filesServed = new Counter({
    name: 'strata_replication_file_requests_total',
    help: 'Replication file downloads started (200 or 206), by tree and kind',
    labelNames: ['tree', 'kind'],
    registers: [app.metrics.registry],
  })
  const fileBytes = new Counter({
    name: 'strata_replication_file_bytes_total',
    help: 'Replication file bytes sent (requested ranges), by tree',
    labelNames: ['tree'],
    registers: [app.metrics.registry],
  })

  app.get<{ Params: TreeParams }>('/v1/trees/:tree/replication/state', { schema: replicationStateSchema, config: { role: 'admin' } }, async (request) => {
    return stateToWire(requireTree(app.catalog, request.params.tree).replication.state())
  })

  app.get<{ Params: TreeParams; Querystring: { since: string; wait?: string } }>(
    '/v1/trees/:tree/replication/delta',
    { schema: replicationDeltaSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const tree = requireTree(app.catalog, request.params.tree)
      const since = parseUnsigned(request.query.since, 'since')!
      const wait = parseUnsigned(request.query.wait, 'wait') ?? 0
      if (wait > DELTA_WAIT_MS_MAX) throw httpError('VALIDATION_ERROR', `querystring/wait must be at most ${DELTA_WAIT_MS_MAX}`)
      if (wait > 0) await tree.replication.waitForVersion(since, wait, abortOnClose(reply).signal)
      return deltaToWire(tree.replication.delta(since, true, options.leaseTtlMs))
    },
  )

  app.get<{ Params: TreeParams & { kind: 'tables' | 'blobs'; id: string } }>(
    '/v1/trees/:tree/replication/files/:kind/:id',
    { schema: replicationFileSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const kind = request.params.kind === 'tables' ? 'table' : 'blob'
      const id = parseUnsigned(request.params.id, 'id')!
      let file: ReplicationFile
      try {
        file = await tree.replication.openFile(kind, id)
      } catch (error) {
        if (isStrataError(error, 'NOT_FOUND')) throw httpError('FILE_NOT_FOUND', `no live ${kind} file ${id} (compacted away and not leased)`)
        throw error
      }
      const etag = etagOf(file.checksum)
      const ifRange = request.headers['if-range']
      const range = ifRange !== undefined && ifRange !== etag ? undefined : parseRange(request.headers.range, file.sizeBytes)
      reply.header('etag', etag).header('accept-ranges', 'bytes').type('application/octet-stream')
      if (range === 'unsatisfiable') {
        await file.close()
        throw httpError('RANGE_NOT_SATISFIABLE', `the file has ${file.sizeBytes} bytes`, { 'content-range': `bytes */${file.sizeBytes}` })
      }
      const start = range?.start ?? 0
      const end = range?.end ?? file.sizeBytes - 1
      if (range !== undefined) reply.code(206).header('content-range', `bytes ${start}-${end}/${file.sizeBytes}`)
      reply.header('content-length', String(end + 1 - start))
      filesServed.inc({ tree: name, kind })
      fileBytes.inc({ tree: name }, end + 1 - start)
      if (end < start) {
        await file.close()
        return reply.send(Buffer.alloc(0))
      }
      return reply.send(fileStream(file, start, end, options.limiter))
    },
  )

  app.delete<{ Params: TreeParams & { leaseId: string } }>(
    '/v1/trees/:tree/replication/leases/:leaseId',
    { schema: releaseLeaseSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const tree = requireTree(app.catalog, request.params.tree)
      if (!tree.replication.releaseLease(request.params.leaseId)) throw httpError('LEASE_NOT_FOUND', 'no live lease has this id (released or expired)')
      return reply.code(204).send()
    },
  )

  app.get<{ Params: TreeParams; Querystring: { since: string } }>(
    '/v1/trees/:tree/replication/wal',
    { schema: replicationWalSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const tree = requireTree(app.catalog, request.params.tree)
      const since = parseUnsigned(request.query.since, 'since')!
      if (since > tree.seqno) throw httpError('INVALID_ARGUMENT', `seqno ${since} is ahead of the newest seqno ${tree.seqno}`)
      const ac = abortOnClose(reply)
      reply.type(WAL_STREAM_CONTENT_TYPE).header('cache-control', 'no-store')
      return reply.send(Readable.from(walFrames(tree, since, ac.signal), { objectMode: false }))
    },
  )
}
