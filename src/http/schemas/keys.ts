/**
 * Schemas of the single-key routes: PUT/GET/HEAD/DELETE /v1/trees/{tree}/keys/{key} and
 * POST /v1/trees/{tree}/keys/{key}/merge. Values travel raw (application/octet-stream), so
 * these routes have no JSON body schema: `consumes` and `produces` name the media type.
 */
import { errorResponses, seqnoQuerySchema, seqnoResponseSchema, treeNameSchema } from './common.js'

export const keyParamsSchema = {
  type: 'object',
  required: ['tree', 'key'],
  properties: {
    tree: treeNameSchema,
    key: {
      type: 'string',
      description: 'The key: ONE path segment, percent-encoded (RFC 3986); any bytes (%00, %FF, %2F for a slash), 1 to 65,535 bytes.',
    },
  },
  additionalProperties: false,
} as const

const rawValueSchema = { type: 'string', format: 'binary', description: 'The raw value bytes.' } as const

export const putKeySchema = {
  summary: 'Put a value',
  consumes: ['application/octet-stream'],
  params: keyParamsSchema,
  response: { 200: seqnoResponseSchema, ...errorResponses },
} as const

export const getKeySchema = {
  summary: 'Get a value (raw bytes; header X-Seqno is the seqno read at)',
  produces: ['application/octet-stream'],
  params: keyParamsSchema,
  querystring: {
    type: 'object',
    properties: { seqno: seqnoQuerySchema },
    additionalProperties: false,
  },
  response: { 200: rawValueSchema, ...errorResponses },
} as const

export const deleteKeySchema = {
  summary: 'Delete a key (a missing key is not an error)',
  params: keyParamsSchema,
  response: { 200: seqnoResponseSchema, ...errorResponses },
} as const

export const mergeKeySchema = {
  summary: "Merge an operand into a key with the tree's merge operator",
  consumes: ['application/octet-stream'],
  params: keyParamsSchema,
  response: { 200: seqnoResponseSchema, ...errorResponses },
} as const
