/**
 * Schemas of the checkpoint and restore routes (API.md "Checkpoints, backups, restore"):
 * GET /v1/trees/{tree}/checkpoint, POST/GET /v1/trees/{tree}/checkpoints,
 * GET/DELETE /v1/trees/{tree}/checkpoints/{id}, POST /v1/trees/{tree}/restore.
 * Archives travel raw (application/x-tar, application/zstd); the restore upload is
 * multipart/form-data, parsed as a stream by @fastify/multipart (no body schema).
 */
import { errorResponses, treeNameSchema, treeParamsSchema } from './common.js'
import { treeStatsSchema } from './trees.js'

/** A named checkpoint id (src/backup/named-checkpoints.ts CHECKPOINT_ID_PATTERN). */
export const checkpointIdSchema = { type: 'string', pattern: '^[0-9a-f]{24}$', description: 'A named checkpoint id (24 hex digits).' } as const

const compressionQuerySchema = {
  type: 'object',
  properties: {
    compression: { type: 'string', enum: ['none', 'zstd'], description: 'zstd: stream a .tar.zst (application/zstd); default none (application/x-tar).' },
  },
  additionalProperties: false,
} as const

const archiveSchema = { type: 'string', format: 'binary', description: 'The archive: BACKUP.json first, then every file it lists.' } as const

const checkpointParamsSchema = {
  type: 'object',
  required: ['tree', 'id'],
  properties: { tree: treeNameSchema, id: checkpointIdSchema },
  additionalProperties: false,
} as const

export const namedCheckpointSchema = {
  type: 'object',
  required: ['id', 'versionId', 'seqno', 'files', 'bytes', 'createdAt'],
  properties: {
    id: checkpointIdSchema,
    versionId: { type: 'integer' },
    seqno: { type: 'integer' },
    files: { type: 'integer', description: 'Files in the checkpoint (tables, manifest, CURRENT, OPTIONS.json).' },
    bytes: { type: 'integer', description: 'Their bytes.' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
} as const

export const streamCheckpointSchema = {
  summary: 'Stream a fresh checkpoint as a tar (or tar.zst) backup',
  params: treeParamsSchema,
  querystring: compressionQuerySchema,
  produces: ['application/x-tar', 'application/zstd'],
  response: { 200: archiveSchema, ...errorResponses },
} as const

export const createCheckpointSchema = {
  summary: 'Make a named, persistent checkpoint',
  params: treeParamsSchema,
  response: { 201: namedCheckpointSchema, ...errorResponses },
} as const

export const listCheckpointsSchema = {
  summary: "List the tree's named checkpoints",
  params: treeParamsSchema,
  response: {
    200: {
      type: 'object',
      required: ['checkpoints'],
      properties: { checkpoints: { type: 'array', items: namedCheckpointSchema } },
      additionalProperties: false,
    },
    ...errorResponses,
  },
} as const

export const getCheckpointSchema = {
  summary: 'Stream a named checkpoint as a tar (or tar.zst) backup',
  params: checkpointParamsSchema,
  querystring: compressionQuerySchema,
  produces: ['application/x-tar', 'application/zstd'],
  response: { 200: archiveSchema, ...errorResponses },
} as const

export const deleteCheckpointSchema = {
  summary: 'Delete a named checkpoint',
  params: checkpointParamsSchema,
  response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses },
} as const

export const restoreSchema = {
  summary: 'Create a tree from a backup archive',
  params: treeParamsSchema,
  consumes: ['multipart/form-data'],
  response: { 201: treeStatsSchema, ...errorResponses },
} as const
