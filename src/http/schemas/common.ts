/**
 * Schema pieces shared by the route schemas (JSON Schema, the subset OpenAPI 3.x also reads:
 * no `const`, no `$ref`), and the parsers of query strings that the schemas check.
 *
 * Ajv runs with coerceTypes false (app.ts): a JSON field of the wrong type is a 400, never
 * coerced. Query strings and path parameters are strings; their schemas check them with
 * patterns, and the parsers below turn them into numbers and booleans.
 */
import { TREE_NAME_PATTERN } from '../../engine/index.js'
import { httpError } from '../errors.js'
import { ENCODINGS } from '../encoding.js'

/** Fastify's error shape, used for every 4xx and 5xx answer. */
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'A stable code from the error registry (src/http/errors.ts).' },
    error: { type: 'string', description: 'The HTTP status text.' },
    message: { type: 'string' },
  },
  additionalProperties: false,
} as const

export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const

/** Every write's answer. */
export const seqnoResponseSchema = {
  type: 'object',
  required: ['seqno'],
  properties: { seqno: { type: 'integer', minimum: 0, description: 'The sequence number at which the write became visible.' } },
  additionalProperties: false,
} as const

export const treeNameSchema = {
  type: 'string',
  pattern: TREE_NAME_PATTERN.source,
  description: 'Tree name.',
} as const

export const treeParamsSchema = {
  type: 'object',
  required: ['tree'],
  properties: { tree: treeNameSchema },
  additionalProperties: false,
} as const

/** A decimal integer in a query string or path: at most 16 digits (fits a safe integer). */
export const UNSIGNED_PATTERN = '^[0-9]{1,16}$'

export const seqnoQuerySchema = {
  type: 'string',
  pattern: UNSIGNED_PATTERN,
  description: 'Read as of this sequence number (a decimal integer).',
} as const

export const encodingSchema = {
  type: 'string',
  enum: [...ENCODINGS],
  description: 'How keys and values are written in JSON strings: utf8 (default) or base64.',
} as const

export const booleanQuerySchema = { type: 'string', enum: ['true', 'false', '1', '0'] } as const

/** A query integer the schema checked against UNSIGNED_PATTERN; undefined when absent. */
export function parseUnsigned(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(n)) throw httpError('VALIDATION_ERROR', `querystring/${name} must be a decimal integer`)
  return n
}

export function parseBoolean(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  return value === 'true' || value === '1'
}
