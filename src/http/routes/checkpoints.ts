/**
 * Checkpoint routes (API.md "Checkpoints, backups, restore"); every one needs the admin role.
 *
 * - GET /v1/trees/{tree}/checkpoint: a temporary hard-linked checkpoint, streamed as a tar
 *   (application/x-tar) or, with `compression=zstd`, a tar.zst (application/zstd), then removed.
 *   Headers X-Version-Id and X-Seqno; Content-Disposition names `<tree>-<seqno>.tar[.zst]`.
 * - POST /v1/trees/{tree}/checkpoints: a named checkpoint, kept until deleted (201).
 * - GET /v1/trees/{tree}/checkpoints: the tree's named checkpoints, oldest first.
 * - GET /v1/trees/{tree}/checkpoints/{id}: a named checkpoint's archive (same format, headers
 *   and `compression`); 404 CHECKPOINT_NOT_FOUND.
 * - DELETE /v1/trees/{tree}/checkpoints/{id}: 204; its files go once no stream reads them.
 *
 * Streams: BACKUP.json comes first, so every file is hashed before the answer starts (cached
 * by inode across backups; see src/backup/file-hash.ts). The temporary checkpoint is removed
 * when the archive stream closes: at its end, on an error, and when the client disconnects
 * (Fastify destroys the stream; the stream closes only after its files are closed). At most
 * CHECKPOINT_STREAMS_MAX streams run at once (429 TOO_MANY_CHECKPOINTS past it).
 *
 * Checkpoints live on the node file system under the data directory; a server on another Vfs
 * (tests' MemVfs) has no store and these routes answer 500.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import {
  archiveStream,
  ChunkPool,
  describeCheckpoint,
  releaseWrittenChunks,
  TAR_CHUNK_BYTES,
  TooManyCheckpointsError,
  type CheckpointLease,
  type CheckpointStore,
  type CheckpointUsage,
  type Compression,
} from '../../backup/index.js'
import { encodeTreeOptionsFile } from '../../engine/index.js'
import { httpError } from '../errors.js'
import { CHECKPOINT_STREAMS_MAX } from '../options.js'
import { requireTree } from '../plugins/catalog.js'
import {
  createCheckpointSchema,
  deleteCheckpointSchema,
  getCheckpointSchema,
  listCheckpointsSchema,
  streamCheckpointSchema,
} from '../schemas/checkpoints.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Named and temporary checkpoints (undefined on a server not on the node file system). */
    checkpointStore: CheckpointStore | undefined
  }
}

interface TreeParams {
  tree: string
}
interface CheckpointParams extends TreeParams {
  id: string
}
interface CompressionQuery {
  compression?: Compression
}

/** Checkpoint usage for tree stats (zeros without a store). */
export async function checkpointUsage(app: FastifyInstance, name: string, treeId: string): Promise<CheckpointUsage> {
  const store = app.checkpointStore
  return store === undefined ? { count: 0, bytes: 0, pinnedBytes: 0 } : store.usage(name, treeId)
}

function requireStore(app: FastifyInstance): CheckpointStore {
  if (app.checkpointStore === undefined) throw httpError('INTERNAL', 'checkpoints need the node file system')
  return app.checkpointStore
}

/** OPTIONS.json of a catalog tree, so a restore recreates it with the same options. */
function optionsFileOf(app: FastifyInstance, name: string): Buffer {
  return encodeTreeOptionsFile(app.catalog.optionsOf(name) ?? {})
}

export const checkpointRoutes: FastifyPluginAsync = async (app: FastifyInstance) => {
  let streams = 0
  /** File-read buffers shared by this server's archive streams (no 1 MiB allocation per read). */
  const readBuffers = new ChunkPool(TAR_CHUNK_BYTES)

  /** Streams the checkpoint `lease` holds; releases the lease when the stream closes. */
  async function sendArchive(request: FastifyRequest, reply: FastifyReply, name: string, lease: CheckpointLease, compression: Compression): Promise<FastifyReply> {
    // The client may go away while the files are hashed: stop hashing then.
    const abort = new AbortController()
    const onClose = () => abort.abort()
    reply.raw.once('close', onClose)
    let source
    try {
      source = await describeCheckpoint(lease.dir, { tree: name, treeId: lease.treeId, seqno: lease.seqno, versionId: lease.versionId, createdAt: lease.createdAt }, abort.signal)
    } catch (error) {
      reply.raw.off('close', onClose)
      streams--
      await lease.release()
      throw error
    }
    reply.raw.off('close', onClose)
    const stream = archiveStream(source, compression, readBuffers)
    // A plain tar's pooled chunks go back once the socket has taken them (see chunk-pool.ts).
    if (compression === 'none') releaseWrittenChunks(reply.raw, readBuffers)
    stream.once('close', () => {
      streams--
      lease.release().catch((error: unknown) => request.log.error({ err: error }, 'removing a checkpoint failed'))
    })
    const zstd = compression === 'zstd'
    reply.header('content-type', zstd ? 'application/zstd' : 'application/x-tar')
    reply.header('content-disposition', `attachment; filename="${name}-${lease.seqno}.tar${zstd ? '.zst' : ''}"`)
    reply.header('x-version-id', String(lease.versionId))
    reply.header('x-seqno', String(lease.seqno))
    return reply.send(stream)
  }

  function claimStream(): void {
    if (streams >= CHECKPOINT_STREAMS_MAX) throw httpError('TOO_MANY_CHECKPOINTS', `the server streams ${CHECKPOINT_STREAMS_MAX} checkpoints already; retry later`)
    streams++
  }

  app.get<{ Params: TreeParams; Querystring: CompressionQuery }>(
    '/v1/trees/:tree/checkpoint',
    { schema: streamCheckpointSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const store = requireStore(app)
      claimStream()
      let lease: CheckpointLease
      try {
        lease = await store.takeTemporary(name, tree, optionsFileOf(app, name))
      } catch (error) {
        streams--
        throw error
      }
      return sendArchive(request, reply, name, lease, request.query.compression ?? 'none')
    },
  )

  app.post<{ Params: TreeParams }>('/v1/trees/:tree/checkpoints', { schema: createCheckpointSchema, config: { role: 'admin' } }, async (request, reply) => {
    const name = request.params.tree
    const tree = requireTree(app.catalog, name)
    try {
      const c = await requireStore(app).create(name, tree, optionsFileOf(app, name))
      reply.code(201)
      return { id: c.id, versionId: c.versionId, seqno: c.seqno, files: c.files, bytes: c.bytes, createdAt: c.createdAt }
    } catch (error) {
      if (error instanceof TooManyCheckpointsError) throw httpError('TOO_MANY_CHECKPOINTS', error.message)
      throw error
    }
  })

  app.get<{ Params: TreeParams }>('/v1/trees/:tree/checkpoints', { schema: listCheckpointsSchema, config: { role: 'admin' } }, async (request) => {
    const name = request.params.tree
    const tree = requireTree(app.catalog, name)
    const list = await requireStore(app).list(name, tree.treeId)
    return { checkpoints: list.map((c) => ({ id: c.id, versionId: c.versionId, seqno: c.seqno, files: c.files, bytes: c.bytes, createdAt: c.createdAt })) }
  })

  app.get<{ Params: CheckpointParams; Querystring: CompressionQuery }>(
    '/v1/trees/:tree/checkpoints/:id',
    { schema: getCheckpointSchema, config: { role: 'admin' } },
    async (request, reply) => {
      const { tree: name, id } = request.params
      const tree = requireTree(app.catalog, name)
      const store = requireStore(app)
      claimStream()
      let lease: CheckpointLease | undefined
      try {
        lease = await store.acquire(name, tree.treeId, id)
      } catch (error) {
        streams--
        throw error
      }
      if (lease === undefined) {
        streams--
        throw httpError('CHECKPOINT_NOT_FOUND', `tree '${name}' has no checkpoint ${id}`)
      }
      return sendArchive(request, reply, name, lease, request.query.compression ?? 'none')
    },
  )

  app.delete<{ Params: CheckpointParams }>('/v1/trees/:tree/checkpoints/:id', { schema: deleteCheckpointSchema, config: { role: 'admin' } }, async (request, reply) => {
    const { tree: name, id } = request.params
    const tree = requireTree(app.catalog, name)
    if (!(await requireStore(app).delete(name, tree.treeId, id))) throw httpError('CHECKPOINT_NOT_FOUND', `tree '${name}' has no checkpoint ${id}`)
    return reply.code(204).send()
  })
}
