/**
 * POST /v1/trees/{tree}/restore (API.md; role admin): creates `{tree}` from a backup archive.
 *
 * The upload is `multipart/form-data` with one file field named `file` holding a `.tar` or
 * `.tar.zst` (told apart by its first bytes, not its name). As a convenience the archive may
 * also be the raw body (Content-Type application/x-tar, application/zstd or
 * application/octet-stream: `curl -T backup.tar`). Either way it is streamed, never buffered
 * whole, into src/backup's restoreArchive under Catalog.adopt (which reserves the name and
 * opens the restored tree). Answers: 201 with the tree's stats; 409 TREE_EXISTS (checked before
 * the upload is read); 400 INVALID_ARCHIVE with the reason, leaving nothing behind. The upload
 * and the unpacked tar are bounded by `maxRestoreBytes` (--max-restore-bytes, default 1 TiB).
 */
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'

import { isInvalidArchive, restoreArchive, type RestoreResult } from '../../backup/index.js'
import { isStrataError, type Tree } from '../../engine/index.js'
import { httpError } from '../errors.js'
import { restoreSchema } from '../schemas/checkpoints.js'
import { checkpointUsage } from './checkpoints.js'
import { treeStats } from './trees.js'

export interface RestoreRoutesOptions {
  maxRestoreBytes: number
}

/** Raw archive bodies this route takes besides multipart. */
const RAW_ARCHIVE_TYPES = ['application/x-tar', 'application/zstd', 'application/octet-stream']
/** Tar headers beyond maxBytes of file data: the same allowance extract.ts gives the tar stream. */
const TAR_OVERHEAD_BYTES = 64 * 1024 * 1024

export const restoreRoutes: FastifyPluginAsync<RestoreRoutesOptions> = async (app: FastifyInstance, options) => {
  const maxBytes = options.maxRestoreBytes
  // Registered in this plugin only: no other route parses multipart.
  await app.register(multipart, {
    limits: { files: 1, fields: 0, parts: 1, fileSize: maxBytes + TAR_OVERHEAD_BYTES, headerPairs: 100 },
  })
  // Raw bodies are handed over as the request stream itself (the body limit does not apply:
  // maxBytes bounds them in restoreArchive).
  app.addContentTypeParser(RAW_ARCHIVE_TYPES, (_request, payload, done) => done(null, payload))

  app.post<{ Params: { tree: string } }>('/v1/trees/:tree/restore', { schema: restoreSchema, config: { role: 'admin' } }, async (request, reply) => {
    const name = request.params.tree
    if (app.catalog.get(name) !== undefined || app.catalog.failure(name) !== undefined) throw httpError('TREE_EXISTS', `tree '${name}' exists`)
    if (app.checkpointStore === undefined) throw httpError('INTERNAL', 'restore needs the node file system')
    const upload = await uploadOf(request)
    let tree: Tree
    try {
      ;({ tree } = await app.catalog.adopt<RestoreResult>(name, () => restoreArchive(upload.stream, { dataDir: app.catalog.dataDir, treeName: name, maxBytes })))
    } catch (error) {
      if (upload.truncated()) throw httpError('INVALID_ARCHIVE', `the upload is over the limit of ${maxBytes} bytes`)
      if (isInvalidArchive(error)) throw httpError('INVALID_ARCHIVE', error.message)
      if (isStrataError(error, 'EXISTS')) throw httpError('TREE_EXISTS', `tree '${name}' exists`)
      throw error
    }
    reply.code(201)
    return { ...treeStats(name, tree), checkpoints: await checkpointUsage(app, name, tree.treeId) }
  })
}

interface Upload {
  stream: AsyncIterable<Uint8Array>
  /** True when multipart's file size limit cut the upload. */
  truncated(): boolean
}

async function uploadOf(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart()) {
    const body = request.body as AsyncIterable<Uint8Array> | undefined
    if (body === undefined || body === null || typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function') {
      throw httpError('UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data with one file field named file, or the archive as the raw body')
    }
    return { stream: body, truncated: () => false }
  }
  let part
  try {
    part = await request.file()
  } catch {
    throw httpError('INVALID_ARCHIVE', 'the multipart body must hold exactly one file field named file')
  }
  if (part === undefined) throw httpError('INVALID_ARCHIVE', 'the multipart body holds no file (one file field named file is expected)')
  if (part.fieldname !== 'file') {
    part.file.resume()
    throw httpError('INVALID_ARCHIVE', 'the multipart file field must be named file')
  }
  const file = part.file
  return { stream: file, truncated: () => file.truncated }
}
