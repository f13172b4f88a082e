/**
 * Schemas of the multi-key writes: POST /v1/trees/{tree}/batch and /delete-range. Keys and
 * values are JSON strings read per `encoding` (utf8 default, or base64).
 */
import { BATCH_OPS_MAX } from '../options.js'
import { encodingSchema, errorResponses, seqnoResponseSchema, treeParamsSchema } from './common.js'

const text = { type: 'string' } as const

function opSchema(type: string, fields: readonly string[]) {
  return {
    type: 'object',
    required: ['type', ...fields],
    properties: { type: { type: 'string', enum: [type] }, ...Object.fromEntries(fields.map((f) => [f, text])) },
    additionalProperties: false,
  } as const
}

export const batchOpSchemas = {
  put: opSchema('put', ['key', 'value']),
  delete: opSchema('delete', ['key']),
  deleteRange: opSchema('deleteRange', ['start', 'end']),
  merge: opSchema('merge', ['key', 'value']),
} as const

export const batchBodySchema = {
  type: 'object',
  required: ['ops'],
  properties: {
    encoding: encodingSchema,
    ops: {
      type: 'array',
      minItems: 1,
      maxItems: BATCH_OPS_MAX,
      items: {
        type: 'object',
        required: ['type'],
        discriminator: { propertyName: 'type' },
        oneOf: [batchOpSchemas.put, batchOpSchemas.delete, batchOpSchemas.deleteRange, batchOpSchemas.merge],
      },
    },
  },
  additionalProperties: false,
} as const

export const batchSchema = {
  summary: 'Apply 1 to 10,000 ops atomically at one seqno',
  params: treeParamsSchema,
  body: batchBodySchema,
  response: { 200: seqnoResponseSchema, ...errorResponses },
} as const

export const deleteRangeBodySchema = {
  type: 'object',
  description: 'Either { start, end } (half-open) or { prefix }.',
  oneOf: [
    {
      type: 'object',
      required: ['start', 'end'],
      properties: { start: text, end: text, encoding: encodingSchema },
      additionalProperties: false,
    },
    {
      type: 'object',
      required: ['prefix'],
      properties: { prefix: text, encoding: encodingSchema },
      additionalProperties: false,
    },
  ],
} as const

export const deleteRangeSchema = {
  summary: 'Delete every key in [start, end), or every key with a prefix',
  params: treeParamsSchema,
  body: deleteRangeBodySchema,
  response: { 200: seqnoResponseSchema, ...errorResponses },
} as const
