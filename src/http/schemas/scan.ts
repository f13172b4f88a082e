/**
 * Schema of GET /v1/trees/{tree}/scan. Every query field is a string (checked by pattern);
 * routes/scan.ts converts them.
 */
import { CURSOR_TOKEN_CHARS_MAX } from '../cursor.js'
import { booleanQuerySchema, encodingSchema, errorResponses, seqnoQuerySchema, treeParamsSchema, UNSIGNED_PATTERN } from './common.js'

export const scanQuerySchema = {
  type: 'object',
  properties: {
    start: { type: 'string', description: 'Inclusive lower bound (per encoding).' },
    end: { type: 'string', description: 'Exclusive upper bound (per encoding).' },
    prefix: { type: 'string', description: 'Only keys starting with these bytes (per encoding).' },
    limit: { type: 'string', pattern: UNSIGNED_PATTERN, description: 'Items per page, 1 to 10,000 (default 100).' },
    reverse: booleanQuerySchema,
    seqno: seqnoQuerySchema,
    encoding: encodingSchema,
    cursor: { type: 'string', maxLength: CURSOR_TOKEN_CHARS_MAX, description: 'From the previous page; continues at its snapshot with its bounds, direction, limit and encoding.' },
  },
  additionalProperties: false,
} as const

export const scanResponseSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'value'],
        properties: { key: { type: 'string' }, value: { type: 'string' } },
        additionalProperties: false,
      },
    },
    cursor: { type: 'string', description: 'Present exactly when more items remain.' },
  },
  additionalProperties: false,
} as const

export const scanSchema = {
  summary: 'Scan a key range (pages with a cursor; header X-Seqno is the snapshot read at)',
  params: treeParamsSchema,
  querystring: scanQuerySchema,
  response: { 200: scanResponseSchema, ...errorResponses },
} as const
