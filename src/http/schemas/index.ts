/**
 * Every route schema of this layer, by "METHOD path" in OpenAPI path syntax, so the openapi sync
 * test can compare them with openapi.yaml. HEAD of a key is Fastify's automatic HEAD of its GET.
 */
import { batchSchema, deleteRangeSchema } from './batch.js'
import { createCheckpointSchema, deleteCheckpointSchema, getCheckpointSchema, listCheckpointsSchema, restoreSchema, streamCheckpointSchema } from './checkpoints.js'
import { deleteKeySchema, getKeySchema, mergeKeySchema, putKeySchema } from './keys.js'
import { releaseLeaseSchema, replicationDeltaSchema, replicationFileSchema, replicationStateSchema, replicationWalSchema } from './replication.js'
import { scanSchema } from './scan.js'
import { createSnapshotSchema, releaseSnapshotSchema } from './snapshots.js'
import { compactTreeSchema, createTreeSchema, dropTreeSchema, flushTreeSchema, getTreeSchema, listTreesSchema } from './trees.js'

export * from './common.js'
export * from './trees.js'
export * from './keys.js'
export * from './batch.js'
export * from './scan.js'
export * from './snapshots.js'
export * from './checkpoints.js'
export * from './replication.js'

export const ROUTE_SCHEMAS = {
  'GET /v1/trees': listTreesSchema,
  'PUT /v1/trees/{tree}': createTreeSchema,
  'GET /v1/trees/{tree}': getTreeSchema,
  'DELETE /v1/trees/{tree}': dropTreeSchema,
  'POST /v1/trees/{tree}/flush': flushTreeSchema,
  'POST /v1/trees/{tree}/compact': compactTreeSchema,
  'PUT /v1/trees/{tree}/keys/{key}': putKeySchema,
  'GET /v1/trees/{tree}/keys/{key}': getKeySchema,
  'HEAD /v1/trees/{tree}/keys/{key}': getKeySchema,
  'DELETE /v1/trees/{tree}/keys/{key}': deleteKeySchema,
  'POST /v1/trees/{tree}/keys/{key}/merge': mergeKeySchema,
  'POST /v1/trees/{tree}/batch': batchSchema,
  'POST /v1/trees/{tree}/delete-range': deleteRangeSchema,
  'GET /v1/trees/{tree}/scan': scanSchema,
  'POST /v1/trees/{tree}/snapshots': createSnapshotSchema,
  'DELETE /v1/trees/{tree}/snapshots/{seqno}': releaseSnapshotSchema,
  'GET /v1/trees/{tree}/checkpoint': streamCheckpointSchema,
  'POST /v1/trees/{tree}/checkpoints': createCheckpointSchema,
  'GET /v1/trees/{tree}/checkpoints': listCheckpointsSchema,
  'GET /v1/trees/{tree}/checkpoints/{id}': getCheckpointSchema,
  'DELETE /v1/trees/{tree}/checkpoints/{id}': deleteCheckpointSchema,
  'POST /v1/trees/{tree}/restore': restoreSchema,
  'GET /v1/trees/{tree}/replication/state': replicationStateSchema,
  'GET /v1/trees/{tree}/replication/delta': replicationDeltaSchema,
  'GET /v1/trees/{tree}/replication/files/{kind}/{id}': replicationFileSchema,
  'DELETE /v1/trees/{tree}/replication/leases/{leaseId}': releaseLeaseSchema,
  'GET /v1/trees/{tree}/replication/wal': replicationWalSchema,
} as const
