/**
 * Multi-key writes (API.md, Keys): POST /v1/trees/{tree}/batch (1 to 10,000 ops, all or
 * nothing at one seqno) and POST /v1/trees/{tree}/delete-range ({start, end} or {prefix}).
 *
 * Invariant (atomicity): every op is decoded and checked, and added to one engine WriteBatch,
 * before anything is written; a bad op (encoding, key length, merge operand, start > end) fails
 * the request with nothing applied. The engine commits the batch as one WAL record.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import { KEY_BYTES_MAX, VALUE_BYTES_MAX, type Tree } from '../../engine/index.js'
import { checkKeyBytes, decodeText, prefixEnd, type Encoding } from '../encoding.js'
import { httpError } from '../errors.js'
import { requireTree } from '../plugins/catalog.js'
import { batchSchema, deleteRangeSchema } from '../schemas/batch.js'

export type BatchOp =
  | { type: 'put'; key: string; value: string }
  | { type: 'delete'; key: string }
  | { type: 'deleteRange'; start: string; end: string }
  | { type: 'merge'; key: string; value: string }

export interface BatchBody {
  encoding?: Encoding
  ops: BatchOp[]
}

export type DeleteRangeBody = { start: string; end: string; encoding?: Encoding } | { prefix: string; encoding?: Encoding }

/** The largest key: a range up to it, plus a point delete of it, covers every key from a bound on. */
const KEY_MAX = Buffer.alloc(KEY_BYTES_MAX, 0xff)

function keyOf(text: string, encoding: Encoding, field: string): Buffer {
  return checkKeyBytes(decodeText(text, encoding, field), field)
}

function valueOf(text: string, encoding: Encoding, field: string): Buffer {
  const value = decodeText(text, encoding, field)
  if (value.length > VALUE_BYTES_MAX) throw httpError('VALUE_TOO_LARGE', `${field} is over ${VALUE_BYTES_MAX} bytes`)
  return value
}

/** Builds the engine batch for `body` (throws before anything is written). */
export function buildBatch(tree: Tree, body: BatchBody) {
  const encoding = body.encoding ?? 'utf8'
  const batch = tree.batch()
  body.ops.forEach((op, i) => {
    const at = `ops[${i}]`
    switch (op.type) {
      case 'put':
        batch.put(keyOf(op.key, encoding, `${at}.key`), valueOf(op.value, encoding, `${at}.value`))
        break
      case 'delete':
        batch.delete(keyOf(op.key, encoding, `${at}.key`))
        break
      case 'deleteRange':
        batch.deleteRange(keyOf(op.start, encoding, `${at}.start`), keyOf(op.end, encoding, `${at}.end`))
        break
      case 'merge':
        batch.merge(keyOf(op.key, encoding, `${at}.key`), valueOf(op.value, encoding, `${at}.value`))
        break
      default:
        throw httpError('VALIDATION_ERROR', `${at}.type is not an op type`)
    }
  })
  return batch
}

export const batchRoutes: FastifyPluginAsync = async (app: FastifyInstance) => {
  app.post<{ Params: { tree: string }; Body: BatchBody }>(
    '/v1/trees/:tree/batch',
    { schema: batchSchema, config: { role: 'write' } },
    async (request) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const seqno = await buildBatch(tree, request.body).write()
      app.metrics.treeWrites(name)
      return { seqno }
    },
  )

  app.post<{ Params: { tree: string }; Body: DeleteRangeBody }>(
    '/v1/trees/:tree/delete-range',
    { schema: deleteRangeSchema, config: { role: 'write' } },
    async (request) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const body = request.body
      const encoding = body.encoding ?? 'utf8'
      let seqno: number
      if ('prefix' in body) {
        const prefix = keyOf(body.prefix, encoding, 'prefix')
        const end = prefixEnd(prefix)
        // A prefix of only 0xFF bytes has no successor: delete up to the largest key, and it.
        seqno = end !== undefined ? await tree.deleteRange(prefix, end) : await tree.batch().deleteRange(prefix, KEY_MAX).delete(KEY_MAX).write()
      } else {
        seqno = await tree.deleteRange(keyOf(body.start, encoding, 'start'), keyOf(body.end, encoding, 'end'))
      }
      app.metrics.treeWrites(name)
      return { seqno }
    },
  )
}
