/**
 * GET /scan: bounds (start inclusive, end exclusive, prefix), reverse, limit, encodings, and the
 * cursor: present exactly when more items remain, continuing at the same snapshot with the same
 * bounds while writes and compactions happen, refusing forged, edited or mismatched cursors.
 */
import { createHmac } from 'node:crypto'

import t from 'tap'

import { CursorCodec } from '../../src/http/cursor.js'
import { assertError, createTree, keyUrl, makeApp, prng, putKey, randomBytesFrom } from './helpers.js'

interface Page {
  items: { key: string; value: string }[]
  cursor?: string
}

const pad = (i: number) => `k${String(i).padStart(4, '0')}`

async function fill(app: Parameters<typeof putKey>[0], tree: string, n: number): Promise<void> {
  for (let at = 0; at < n; at += 1000) {
    const ops = Array.from({ length: Math.min(1000, n - at) }, (_, i) => ({ type: 'put', key: pad(at + i), value: `v${at + i}` }))
    const res = await app.inject({ method: 'POST', url: `/v1/trees/${tree}/batch`, payload: { ops } })
    if (res.statusCode !== 200) throw new Error(res.body)
  }
}

t.test('bounds, prefix, reverse, limit', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  for (const k of ['a', 'ab', 'abc', 'b', 'ba', 'c']) await putKey(app, 's', k, k.toUpperCase())
  const keys = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/trees/s/scan${query}` })
    t.equal(res.statusCode, 200, `${query}: ${res.body}`)
    return (res.json() as Page).items.map((i) => i.key)
  }
  t.same(await keys(''), ['a', 'ab', 'abc', 'b', 'ba', 'c'])
  t.same(await keys('?start=ab&end=ba'), ['ab', 'abc', 'b'], 'start inclusive, end exclusive')
  t.same(await keys('?prefix=a'), ['a', 'ab', 'abc'])
  t.same(await keys('?prefix=a&start=ab'), ['ab', 'abc'], 'prefix and start intersect')
  t.same(await keys('?reverse=true'), ['c', 'ba', 'b', 'abc', 'ab', 'a'])
  t.same(await keys('?reverse=true&start=ab&end=ba'), ['b', 'abc', 'ab'])
  t.same(await keys('?reverse=1&prefix=b'), ['ba', 'b'])
  t.same(await keys('?start=c&end=a'), [], 'an empty range')
  t.same(await keys('?end='), [], 'an empty end bound')
  const page = (await app.inject({ method: 'GET', url: '/v1/trees/s/scan?limit=2' })).json() as Page
  t.same(page.items, [{ key: 'a', value: 'A' }, { key: 'ab', value: 'AB' }])
  t.type(page.cursor, 'string')
  const all = (await app.inject({ method: 'GET', url: '/v1/trees/s/scan?limit=6' })).json() as Page
  t.equal(all.items.length, 6)
  t.notOk('cursor' in all, 'no cursor when nothing remains (exactly limit items)')
  const seqno = (await app.inject({ method: 'GET', url: '/v1/trees/s/scan' })).headers['x-seqno']
  t.equal(seqno, '6')
})

t.test('encodings: base64 for binary, utf8 refuses bytes that are not UTF-8', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  await putKey(app, 's', Buffer.from([0xff, 0x00]), Buffer.from([0x80]))
  const res = await app.inject({ method: 'GET', url: '/v1/trees/s/scan?encoding=base64' })
  t.same((res.json() as Page).items, [{ key: Buffer.from([0xff, 0x00]).toString('base64'), value: Buffer.from([0x80]).toString('base64') }])
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/s/scan' }), 400, 'INVALID_ENCODING')
  const start = encodeURIComponent(Buffer.from([0xff]).toString('base64'))
  t.equal(((await app.inject({ method: 'GET', url: `/v1/trees/s/scan?encoding=base64&start=${start}` })).json() as Page).items.length, 1)
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/s/scan?encoding=base64&start=***' }), 400, 'INVALID_ENCODING')
})

t.test('pagination over 1,000 keys sees its snapshot only, across writes and a compaction', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'p')
  await fill(app, 'p', 1000)
  const first = await app.inject({ method: 'GET', url: '/v1/trees/p/scan?limit=64' })
  const snapshotSeqno = first.headers['x-seqno']
  let page = first.json() as Page
  const seen: string[] = page.items.map((i) => `${i.key}=${i.value}`)
  let pages = 1
  let writes = 0
  while (page.cursor !== undefined) {
    // Writes between pages: new keys inside the range, overwrites, deletes, a range delete.
    await putKey(app, 'p', `k0500x${pages}`, 'new')
    await putKey(app, 'p', pad(999 - pages), 'overwritten')
    await app.inject({ method: 'DELETE', url: keyUrl('p', pad(pages * 7)) })
    writes += 3
    if (pages === 5) await app.inject({ method: 'POST', url: '/v1/trees/p/delete-range', payload: { start: pad(600), end: pad(700) } })
    if (pages === 8) t.equal((await app.inject({ method: 'POST', url: '/v1/trees/p/compact' })).statusCode, 200, 'compaction mid-scan')
    const res = await app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${page.cursor}` })
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.headers['x-seqno'], snapshotSeqno, 'every page at the same seqno')
    page = res.json() as Page
    t.ok(page.items.length <= 64)
    seen.push(...page.items.map((i) => `${i.key}=${i.value}`))
    pages++
  }
  t.equal(pages, Math.ceil(1000 / 64))
  t.ok(writes > 0)
  t.same(seen, Array.from({ length: 1000 }, (_, i) => `${pad(i)}=v${i}`), 'exactly the snapshot, in order, once each')
})

t.test('reverse pagination with bounds keeps direction, bounds, limit and encoding', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'p')
  await fill(app, 'p', 300)
  const start = Buffer.from(pad(10)).toString('base64')
  const end = Buffer.from(pad(250)).toString('base64')
  let res = await app.inject({ method: 'GET', url: `/v1/trees/p/scan?reverse=true&limit=7&encoding=base64&start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}` })
  const keys: string[] = []
  for (;;) {
    t.equal(res.statusCode, 200, res.body)
    const page = res.json() as Page
    keys.push(...page.items.map((i) => Buffer.from(i.key, 'base64').toString()))
    if (page.cursor === undefined) break
    res = await app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${page.cursor}&limit=7&reverse=true` })
  }
  t.same(keys, Array.from({ length: 240 }, (_, i) => pad(249 - i)))
})

t.test('cursor checks', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'p')
  await createTree(t, app, 'q')
  await fill(app, 'p', 20)
  await fill(app, 'q', 20)
  const page = (await app.inject({ method: 'GET', url: '/v1/trees/p/scan?limit=5&prefix=k00' })).json() as Page
  const cursor = page.cursor!
  const next = (query: string) => app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${cursor}${query}` })
  t.equal((await next('&limit=5&prefix=k00&encoding=utf8&reverse=false')).statusCode, 200, 'equal repeats are fine')
  for (const q of ['&limit=6', '&prefix=k01', '&reverse=true', '&encoding=base64', '&start=k', '&end=z', '&seqno=0']) {
    assertError(t, await next(q), 400, 'INVALID_CURSOR', q)
  }
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/q/scan?cursor=${cursor}` }), 400, 'INVALID_CURSOR', 'another tree')
  const tampered = cursor.slice(0, 10) + (cursor[10] === 'A' ? 'B' : 'A') + cursor.slice(11)
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${tampered}` }), 400, 'INVALID_CURSOR', 'tampered')
  const forged = new CursorCodec(Buffer.alloc(32, 7)).encode({ tree: 'p', treeId: 'x', seqno: 1, lastKey: Buffer.from('a'), reverse: false, limit: 5, encoding: 'utf8' })
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${forged}` }), 400, 'INVALID_CURSOR', 'forged')
  for (const junk of ['x', '!!!', 'a'.repeat(100)]) assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/p/scan?cursor=${junk}` }), 400, 'INVALID_CURSOR', junk)
  // Drop and re-create: the cursor's treeId no longer matches.
  await app.inject({ method: 'DELETE', url: '/v1/trees/p' })
  await createTree(t, app, 'p')
  assertError(t, await next(''), 400, 'INVALID_CURSOR', 'a re-created tree')
})

t.test('scan limit and seqno query checks', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  const s1 = await putKey(app, 's', 'a', '1')
  await putKey(app, 's', 'b', '2')
  t.same(((await app.inject({ method: 'GET', url: `/v1/trees/s/scan?seqno=${s1}` })).json() as Page).items, [{ key: 'a', value: '1' }])
  for (const q of ['limit=0', 'limit=10001', 'limit=-1', 'limit=abc', 'limit=1.5', 'seqno=-3', 'seqno=x', 'reverse=yes', 'encoding=hex', 'unknown=1', 'limit=1&limit=2']) {
    assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/s/scan?${q}` }), 400, 'VALIDATION_ERROR', q)
  }
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/s/scan?seqno=99' }), 400, 'INVALID_ARGUMENT')
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/s/scan?start=${'a'.repeat(65_536)}` }), 400, 'KEY_TOO_LARGE')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/s/scan?limit=10000' })).statusCode, 200)
})

t.test('randomized scans against a sorted model', async (t) => {
  const seed = Number(process.env['STRATA_SEED'] ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const next = prng(seed)
  const { app } = await makeApp(t)
  await createTree(t, app, 'm')
  const model = new Map<string, string>()
  const ops = []
  for (let i = 0; i < 400; i++) {
    const key = randomBytesFrom(next, 1 + Math.floor(next() * 4))
    const value = randomBytesFrom(next, Math.floor(next() * 8))
    ops.push({ type: 'put', key: key.toString('base64'), value: value.toString('base64') })
    model.set(key.toString('hex'), value.toString('hex'))
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/m/batch', payload: { encoding: 'base64', ops } })).statusCode, 200)
  const sorted = [...model.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')))
  for (let round = 0; round < 20; round++) {
    const a = randomBytesFrom(next, 1 + Math.floor(next() * 2))
    const b = randomBytesFrom(next, 1 + Math.floor(next() * 2))
    const [lo, hi] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a]
    const reverse = next() < 0.5
    const limit = 1 + Math.floor(next() * 30)
    const expected = sorted.filter((k) => Buffer.compare(Buffer.from(k, 'hex'), lo) >= 0 && Buffer.compare(Buffer.from(k, 'hex'), hi) < 0)
    if (reverse) expected.reverse()
    const got: string[] = []
    let url = `/v1/trees/m/scan?encoding=base64&limit=${limit}&reverse=${reverse}&start=${encodeURIComponent(lo.toString('base64'))}&end=${encodeURIComponent(hi.toString('base64'))}`
    for (;;) {
      const page = (await app.inject({ method: 'GET', url })).json() as Page
      got.push(...page.items.map((i) => Buffer.from(i.key, 'base64').toString('hex')))
      for (const i of page.items) {
        if (model.get(Buffer.from(i.key, 'base64').toString('hex')) !== Buffer.from(i.value, 'base64').toString('hex')) t.fail(`seed ${seed}: value`)
      }
      if (page.cursor === undefined) break
      url = `/v1/trees/m/scan?cursor=${page.cursor}`
    }
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.same(got, expected, `seed ${seed} round ${round}`)
      return
    }
  }
  t.pass(`20 random scans match (seed ${seed})`)
})

t.test('cursor token golden bytes, from the layout in cursor.ts', async (t) => {
  const key = Buffer.alloc(32, 0x42)
  const codec = new CursorCodec(key)
  const token = codec.encode({ tree: 't', treeId: 'id', seqno: 5, lastKey: Buffer.from('k'), start: Buffer.from('a'), reverse: true, limit: 10, encoding: 'base64' })
  // ver 01 | flags 07 (reverse, base64, start) | seqno u64 LE | limit u32 LE | 01 't' | 02 'id' | 0100 'k' | 0100 'a'
  const golden = '01' + '07' + '0500000000000000' + '0a000000' + '0174' + '026964' + '01006b' + '010061'
  const bytes = Buffer.from(token, 'base64url')
  t.equal(bytes.subarray(0, bytes.length - 32).toString('hex'), golden)
  t.equal(bytes.subarray(bytes.length - 32).toString('hex'), createHmac('sha256', key).update(Buffer.from(golden, 'hex')).digest('hex'), 'HMAC-SHA256 over the payload')
  t.match(codec.decode(token), { tree: 't', treeId: 'id', seqno: 5, reverse: true, limit: 10, encoding: 'base64', end: undefined, prefix: undefined })
  // Every single-bit flip anywhere in the token is refused.
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes)
    copy[i] = copy[i]! ^ 0x10
    t.throws(() => codec.decode(copy.toString('base64url')), { code: 'INVALID_CURSOR' }, `flip at ${i}`)
  }
  t.throws(() => codec.decode(bytes.subarray(0, bytes.length - 1).toString('base64url')), { code: 'INVALID_CURSOR' }, 'truncated')
})
