/**
 * Schemas of the leader's replication routes (API.md "Replication"; docs/replication.md):
 * state, delta (long-poll), files (Range), lease release, WAL stream. Role admin.
 */
import { UNSIGNED_PATTERN, errorResponses, treeNameSchema, treeParamsSchema } from './common.js'

const tableSchema = {
  type: 'object',
  required: ['id', 'level', 'size', 'checksum', 'smallestKey', 'largestKey', 'smallestSeqno', 'largestSeqno', 'entries', 'rangeTombstones'],
  properties: {
    id: { type: 'integer', minimum: 1, description: 'File number: GET .../replication/files/tables/{id}.' },
    level: { type: 'integer', minimum: 0, maximum: 6 },
    size: { type: 'integer', minimum: 0, description: 'Bytes of the file.' },
    checksum: { type: 'string', pattern: '^[0-9a-f]{8}$', description: "CRC-32C of the whole file (8 hex digits); the file's ETag." },
    smallestKey: { type: 'string', description: 'base64' },
    largestKey: { type: 'string', description: 'base64' },
    smallestSeqno: { type: 'integer' },
    largestSeqno: { type: 'integer' },
    entries: { type: 'integer' },
    rangeTombstones: { type: 'integer' },
    createdAtMs: { type: 'integer' },
  },
  additionalProperties: false,
} as const

const blobSchema = {
  type: 'object',
  required: ['id', 'size', 'checksum'],
  properties: { id: { type: 'integer', minimum: 1 }, size: { type: 'integer' }, checksum: { type: 'string', pattern: '^[0-9a-f]{8}$' } },
  additionalProperties: false,
} as const

export const replicationStateBodySchema = {
  type: 'object',
  required: ['protocol', 'treeId', 'versionId', 'seqno', 'tablesSeqno', 'tables', 'blobFiles', 'epoch', 'epochStartSeqno'],
  properties: {
    protocol: { type: 'integer', description: 'Replication protocol version (1).' },
    treeId: { type: 'string', description: "Fixed at the tree's creation; a restore makes a new one." },
    versionId: { type: 'integer' },
    seqno: { type: 'integer', description: 'The newest durable seqno.' },
    tablesSeqno: { type: 'integer', description: "The seqno the current version's tables hold exactly." },
    tables: { type: 'integer' },
    blobFiles: { type: 'integer' },
    epoch: { type: 'string', description: 'Random per open of the tree (a WAL stream from another epoch may have lost records).' },
    epochStartSeqno: { type: 'integer', description: 'The newest seqno when this epoch began.' },
  },
  additionalProperties: false,
} as const

export const deltaBodySchema = {
  type: 'object',
  required: ['protocol', 'treeId', 'from', 'to', 'seqno', 'addTables', 'removeTables', 'addBlobFiles', 'removeBlobFiles', 'leaseId', 'leaseExpiresAt'],
  properties: {
    protocol: { type: 'integer' },
    treeId: { type: 'string' },
    from: { type: 'integer', description: 'The `since` asked for.' },
    to: { type: 'integer', description: 'The current versionId (= from when nothing changed before `wait` ran out).' },
    seqno: { type: 'integer', description: 'The tables of `to` hold exactly the writes up to this seqno.' },
    addTables: { type: 'array', items: tableSchema },
    removeTables: { type: 'array', items: { type: 'integer' }, description: 'Ids of tables to remove (a table both removed and added moves between levels).' },
    addBlobFiles: { type: 'array', items: blobSchema },
    removeBlobFiles: { type: 'array', items: { type: 'integer' } },
    leaseId: { type: ['string', 'null'], description: 'Pins the added files until released or expired; null when the delta adds none.' },
    leaseExpiresAt: { type: ['string', 'null'], format: 'date-time' },
  },
  additionalProperties: false,
} as const

export const replicationStateSchema = {
  summary: 'Replication state of a tree (leader)',
  params: treeParamsSchema,
  response: { 200: replicationStateBodySchema, ...errorResponses },
} as const

export const replicationDeltaSchema = {
  summary: 'The files added and removed since a version (long-poll)',
  params: treeParamsSchema,
  querystring: {
    type: 'object',
    required: ['since'],
    properties: {
      since: { type: 'string', pattern: UNSIGNED_PATTERN, description: 'A versionId the follower holds.' },
      wait: { type: 'string', pattern: UNSIGNED_PATTERN, description: 'Milliseconds to wait for a newer version (0..30000, default 0).' },
    },
    additionalProperties: false,
  },
  response: { 200: deltaBodySchema, ...errorResponses },
} as const

export const replicationFileSchema = {
  summary: 'An immutable table or blob file (ETag, Range)',
  params: {
    type: 'object',
    required: ['tree', 'kind', 'id'],
    properties: {
      tree: treeNameSchema,
      kind: { type: 'string', enum: ['tables', 'blobs'] },
      id: { type: 'string', pattern: UNSIGNED_PATTERN },
    },
    additionalProperties: false,
  },
  produces: ['application/octet-stream'],
  response: {
    200: { type: 'string', format: 'binary', description: 'The whole file.' },
    206: { type: 'string', format: 'binary', description: 'The requested byte range (Content-Range).' },
    ...errorResponses,
  },
} as const

export const releaseLeaseSchema = {
  summary: 'Release the files pinned by a delta',
  params: {
    type: 'object',
    required: ['tree', 'leaseId'],
    properties: { tree: treeNameSchema, leaseId: { type: 'string', maxLength: 128 } },
    additionalProperties: false,
  },
  response: { 204: { type: 'null', description: 'Released.' }, ...errorResponses },
} as const

export const replicationWalSchema = {
  summary: 'Stream committed write batches after a seqno (framed, see docs/format/replication-wal.md)',
  params: treeParamsSchema,
  querystring: {
    type: 'object',
    required: ['since'],
    properties: { since: { type: 'string', pattern: UNSIGNED_PATTERN, description: 'Stream the records after this seqno.' } },
    additionalProperties: false,
  },
  produces: ['application/vnd.strata.wal-stream'],
  response: { 200: { type: 'string', format: 'binary' }, ...errorResponses },
} as const
