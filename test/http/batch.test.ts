/**
 * POST /batch and /delete-range: every op type, encodings, atomicity (a bad op anywhere writes
 * nothing), one seqno per batch, the op count bounds, and delete-range by bounds and by prefix
 * (including a prefix of only 0xFF bytes, which has no successor).
 */
import t from 'tap'

import { assertError, createTree, keyUrl, makeApp, putKey } from './helpers.js'

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s) : s).toString('base64')

t.test('a batch of every op type applies at one seqno', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'b', { mergeOperator: 'append' })
  await putKey(app, 'b', 'gone', 'x')
  await putKey(app, 'b', 'r1', 'x')
  await putKey(app, 'b', 'r2', 'x')
  const res = await app.inject({
    method: 'POST',
    url: '/v1/trees/b/batch',
    payload: {
      ops: [
        { type: 'put', key: 'a', value: 'A' },
        { type: 'delete', key: 'gone' },
        { type: 'deleteRange', start: 'r', end: 's' },
        { type: 'merge', key: 'm', value: 'x' },
        { type: 'merge', key: 'm', value: 'y' },
      ],
    },
  })
  t.equal(res.statusCode, 200, res.body)
  const { seqno } = res.json() as { seqno: number }
  t.equal(seqno, 4, 'one seqno for the whole batch')
  t.equal((await app.inject({ method: 'GET', url: keyUrl('b', 'a') })).body, 'A')
  t.equal((await app.inject({ method: 'GET', url: keyUrl('b', 'm') })).body, 'xy')
  for (const k of ['gone', 'r1', 'r2']) t.equal((await app.inject({ method: 'GET', url: keyUrl('b', k) })).statusCode, 404, k)
  t.equal((await app.inject({ method: 'GET', url: `${keyUrl('b', 'r1')}?seqno=${seqno - 1}` })).body, 'x', 'before the batch')
})

t.test('base64 encoding carries binary keys and values', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'b')
  const key = Buffer.from([0, 0xff, 0x2f])
  const value = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0])
  const res = await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { encoding: 'base64', ops: [{ type: 'put', key: b64(key), value: b64(value) }] } })
  t.equal(res.statusCode, 200, res.body)
  t.same((await app.inject({ method: 'GET', url: keyUrl('b', key) })).rawPayload, value)
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { encoding: 'base64', ops: [{ type: 'put', key: 'not base64!', value: '' }] } }), 400, 'INVALID_ENCODING')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { encoding: 'base64', ops: [{ type: 'put', key: 'QQ', value: '' }] } }), 400, 'INVALID_ENCODING', 'unpadded')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { encoding: 'hex', ops: [{ type: 'put', key: 'a', value: '' }] } }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: '{"ops":[{"type":"put","key":"\\ud800","value":""}]}', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_ENCODING', 'lone surrogate')
})

t.test('all or nothing: a bad op anywhere writes nothing', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'b')
  await createTree(t, app, 'c', { mergeOperator: 'counter' })
  const before = ((await app.inject({ method: 'GET', url: '/v1/trees/b' })).json() as { seqno: number }).seqno
  const bad = [
    [{ type: 'put', key: 'x', value: '1' }, { type: 'put', key: '', value: '2' }],
    [{ type: 'put', key: 'x', value: '1' }, { type: 'merge', key: 'm', value: '2' }],
    [{ type: 'put', key: 'x', value: '1' }, { type: 'deleteRange', start: 'z', end: 'a' }],
    [{ type: 'put', key: 'x', value: '1' }, { type: 'put', key: 'a'.repeat(65_536), value: '2' }],
  ]
  const codes = ['INVALID_KEY', 'NO_MERGE_OPERATOR', 'INVALID_ARGUMENT', 'KEY_TOO_LARGE']
  for (const [i, ops] of bad.entries()) {
    assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { ops } }), 400, codes[i]!, codes[i])
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/c/batch', payload: { ops: [{ type: 'merge', key: 'm', value: 'short' }] } }), 400, 'INVALID_OPERAND')
  t.equal(((await app.inject({ method: 'GET', url: '/v1/trees/b' })).json() as { seqno: number }).seqno, before, 'no seqno used')
  t.equal((await app.inject({ method: 'GET', url: keyUrl('b', 'x') })).statusCode, 404, 'nothing written')
})

t.test('op count and shape bounds', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'b')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { ops: [] } }), 400, 'VALIDATION_ERROR', 'no ops')
  const max = Array.from({ length: 10_000 }, (_, i) => ({ type: 'put', key: `k${i}`, value: 'v' }))
  const ok = await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { ops: max } })
  t.equal(ok.statusCode, 200, '10,000 ops')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: { ops: [...max, { type: 'delete', key: 'x' }] } }), 400, 'VALIDATION_ERROR', '10,001 ops')
  const shapes = [
    { ops: [{ type: 'upsert', key: 'a', value: 'b' }] },
    { ops: [{ type: 'put', key: 'a' }] },
    { ops: [{ type: 'put', key: 5, value: 'b' }] },
    { ops: [{ type: 'delete', key: 'a', value: 'b' }] },
    { ops: [{ key: 'a' }] },
    { ops: 'put' },
    { operations: [] },
    { ops: [{ type: 'deleteRange', start: 'a' }] },
  ]
  for (const body of shapes) assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/b/batch', payload: body }), 400, 'VALIDATION_ERROR', JSON.stringify(body))
})

t.test('delete-range by bounds and by prefix', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'd')
  for (const k of ['a1', 'a2', 'b1', 'b2', 'c1']) await putKey(app, 'd', k, k)
  const r = await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { start: 'a2', end: 'b2' } })
  t.equal(r.statusCode, 200, r.body)
  const live = async () => ((await app.inject({ method: 'GET', url: '/v1/trees/d/scan' })).json() as { items: { key: string }[] }).items.map((i) => i.key)
  t.same(await live(), ['a1', 'b2', 'c1'], 'half-open')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { prefix: 'b' } })).statusCode, 200)
  t.same(await live(), ['a1', 'c1'])
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { prefix: b64('c'), encoding: 'base64' } })).statusCode, 200)
  t.same(await live(), ['a1'])
  // A prefix of 0xFF bytes: up to and including the largest key.
  const ff = Buffer.from([0xff, 0xff])
  await putKey(app, 'd', ff, '1')
  await putKey(app, 'd', Buffer.concat([ff, Buffer.from([0xff, 0x00])]), '2')
  await putKey(app, 'd', Buffer.alloc(65_535, 0xff), 'largest')
  await putKey(app, 'd', Buffer.from([0xfe]), 'stays')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { prefix: b64(ff), encoding: 'base64' } })).statusCode, 200)
  const left = ((await app.inject({ method: 'GET', url: '/v1/trees/d/scan?encoding=base64' })).json() as { items: { key: string }[] }).items.map((i) => Buffer.from(i.key, 'base64').toString('hex'))
  t.same(left, ['6131', 'fe'])
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { start: 'z', end: 'a' } }), 400, 'INVALID_ARGUMENT')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { start: 'a' } }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { start: 'a', end: 'b', prefix: 'c' } }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/d/delete-range', payload: { prefix: '' } }), 400, 'INVALID_KEY')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/nope/delete-range', payload: { prefix: 'a' } }), 404, 'TREE_NOT_FOUND')
})
