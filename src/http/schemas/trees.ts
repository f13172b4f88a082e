/**
 * Schemas of the tree routes: GET /v1/trees, PUT/GET/DELETE /v1/trees/{tree},
 * POST /v1/trees/{tree}/flush and /compact.
 */
import { errorResponses, treeNameSchema, treeParamsSchema } from './common.js'

/** The options of PUT /v1/trees/{tree} (API.md). Unknown names fail (INVALID_OPTION). */
export const treeOptionsSchema = {
  type: 'object',
  properties: {
    mergeOperator: { type: 'string', enum: ['counter', 'append', 'max'] },
    compression: { type: 'string', enum: ['none', 'lz4', 'zstd'], description: 'lz4 is not supported yet (UNSUPPORTED_OPTION).' },
    zstdDictionary: { type: 'boolean', description: 'true is not supported yet (UNSUPPORTED_OPTION).' },
    encryption: { type: 'boolean', description: 'true needs a server key; not supported yet (UNSUPPORTED_OPTION).' },
    blobThresholdBytes: { type: 'integer', minimum: 0, description: 'K/V separation threshold; 0 = off. Values above 0 are not supported yet (UNSUPPORTED_OPTION).' },
    filterBitsPerKey: { type: 'integer', minimum: 0, maximum: 32 },
    compaction: { type: 'string', enum: ['leveled', 'tiered', 'fifo'], description: 'Only leveled is supported (UNSUPPORTED_OPTION).' },
    sync: { type: 'string', enum: ['always', 'none'], description: "Default: the server's --sync." },
  },
  additionalProperties: false,
} as const

const levelSchema = {
  type: 'object',
  required: ['level', 'tables', 'bytes'],
  properties: { level: { type: 'integer' }, tables: { type: 'integer' }, bytes: { type: 'integer' } },
  additionalProperties: false,
} as const

/** GET /v1/trees/{tree}: the engine's stats plus the name. Extra engine fields pass through. */
export const treeStatsSchema = {
  type: 'object',
  required: ['name', 'treeId', 'seqno', 'versionId', 'levels', 'tables', 'blobFiles', 'diskBytes', 'memtableBytes', 'options'],
  properties: {
    name: treeNameSchema,
    treeId: { type: 'string' },
    seqno: { type: 'integer' },
    versionId: { type: 'integer' },
    levels: { type: 'array', items: levelSchema },
    tables: { type: 'integer' },
    blobFiles: { type: 'integer' },
    diskBytes: { type: 'integer' },
    memtableBytes: { type: 'integer' },
    flushes: { type: 'integer' },
    compactions: { type: 'integer' },
    bytesFlushed: { type: 'integer' },
    bytesCompacted: { type: 'integer' },
    snapshots: { type: 'integer' },
    cache: { type: 'object', additionalProperties: true },
    backgroundError: { type: ['object', 'null'], additionalProperties: true },
    options: { type: 'object', additionalProperties: true },
  },
  additionalProperties: true,
} as const

const treeSummarySchema = {
  type: 'object',
  required: ['name', 'treeId', 'seqno', 'versionId', 'tables', 'diskBytes'],
  properties: {
    name: treeNameSchema,
    treeId: { type: 'string' },
    seqno: { type: 'integer' },
    versionId: { type: 'integer' },
    tables: { type: 'integer' },
    diskBytes: { type: 'integer' },
    readOnly: { type: 'boolean', description: 'true after a background failure (writes answer READ_ONLY).' },
  },
  additionalProperties: false,
} as const

export const listTreesSchema = {
  summary: 'List the trees',
  response: {
    200: {
      type: 'object',
      required: ['trees', 'unavailable'],
      properties: {
        trees: { type: 'array', items: treeSummarySchema },
        unavailable: {
          type: 'array',
          description: 'Trees found on disk that could not be opened at startup.',
          items: {
            type: 'object',
            required: ['name', 'code'],
            properties: { name: { type: 'string' }, code: { type: 'string' } },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
    ...errorResponses,
  },
} as const

export const createTreeSchema = {
  summary: 'Create a tree',
  params: treeParamsSchema,
  body: treeOptionsSchema,
  response: { 201: treeStatsSchema, ...errorResponses },
} as const

export const getTreeSchema = {
  summary: 'Tree stats',
  params: treeParamsSchema,
  response: { 200: treeStatsSchema, ...errorResponses },
} as const

export const dropTreeSchema = {
  summary: 'Drop a tree and remove its files',
  params: treeParamsSchema,
  response: { 204: { type: 'null', description: 'Dropped.' }, ...errorResponses },
} as const

const versionIdResponseSchema = {
  type: 'object',
  required: ['versionId'],
  properties: { versionId: { type: 'integer' } },
  additionalProperties: false,
} as const

export const flushTreeSchema = {
  summary: 'Flush the memtable to a table',
  params: treeParamsSchema,
  response: { 200: versionIdResponseSchema, ...errorResponses },
} as const

export const compactTreeSchema = {
  summary: 'Major compaction',
  params: treeParamsSchema,
  response: { 200: versionIdResponseSchema, ...errorResponses },
} as const
