/**
 * Schemas of POST /v1/trees/{tree}/snapshots and DELETE /v1/trees/{tree}/snapshots/{seqno}.
 */
import { errorResponses, treeNameSchema, treeParamsSchema, UNSIGNED_PATTERN } from './common.js'

export const createSnapshotSchema = {
  summary: "Pin the tree's current seqno for reads and scans",
  params: treeParamsSchema,
  querystring: {
    type: 'object',
    properties: { ttl: { type: 'string', pattern: UNSIGNED_PATTERN, description: 'Seconds until the pin expires (default 60, 1 to 86,400).' } },
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      required: ['seqno', 'expiresAt'],
      properties: {
        seqno: { type: 'integer', minimum: 0 },
        expiresAt: { type: 'string', format: 'date-time', description: 'ISO 8601.' },
      },
      additionalProperties: false,
    },
    ...errorResponses,
  },
} as const

export const releaseSnapshotSchema = {
  summary: 'Release a pinned snapshot',
  params: {
    type: 'object',
    required: ['tree', 'seqno'],
    properties: { tree: treeNameSchema, seqno: { type: 'string', pattern: UNSIGNED_PATTERN } },
    additionalProperties: false,
  },
  response: { 204: { type: 'null', description: 'Released.' }, ...errorResponses },
} as const
