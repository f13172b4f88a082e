// WriteBatch coalescing: a batch's ops share one seqno, so the builder must produce exactly
// the state that applying the ops one by one would give.
import t from 'tap'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { appendOperator, counterOperator } from '../../../src/engine/merge/builtins.js'
import { BatchBuilder } from '../../../src/engine/write-batch.js'
import { MemVfs, Tree } from '../../../src/engine/index.js'

const b = (s: string) => Buffer.from(s)
const i64 = (n: bigint) => {
  const out = Buffer.alloc(8)
  out.writeBigInt64LE(n)
  return out
}
function summary(builder: BatchBuilder) {
  return builder.ops().map((op) => `${op.kind}:${op.key.toString()}=${op.value.toString('hex')}`)
}

t.test('later point ops of a key replace earlier ones', async (t) => {
  const x = new BatchBuilder(undefined)
  x.put('a', '1')
  x.put('a', '2')
  x.delete('b')
  x.put('b', '3')
  t.same(summary(x), [`${KeyKind.Put}:a=${b('2').toString('hex')}`, `${KeyKind.Put}:b=${b('3').toString('hex')}`])
  t.equal(x.size, 4)
})

t.test('merge after put folds into a put; merge after merge combines', async (t) => {
  const x = new BatchBuilder(counterOperator)
  x.put('k', i64(10n))
  x.merge('k', i64(5n))
  x.merge('m', i64(2n))
  x.merge('m', i64(3n))
  x.delete('d')
  x.merge('d', i64(7n))
  const ops = x.ops()
  const k = ops.find((o) => o.key.equals(b('k')))!
  t.equal(k.kind, KeyKind.Put)
  t.equal(k.value.readBigInt64LE(), 15n)
  const m = ops.find((o) => o.key.equals(b('m')))!
  t.equal(m.kind, KeyKind.Merge)
  t.equal(m.value.readBigInt64LE(), 5n)
  const d = ops.find((o) => o.key.equals(b('d')))!
  t.equal(d.kind, KeyKind.Put, 'merge after delete is a put with no base')
  t.equal(d.value.readBigInt64LE(), 7n)
})

t.test('append keeps operand order across the coalescing', async (t) => {
  const x = new BatchBuilder(appendOperator)
  x.merge('k', 'a')
  x.merge('k', 'b')
  x.put('p', 'x')
  x.merge('p', 'y')
  const ops = x.ops()
  t.equal(ops.find((o) => o.key.equals(b('k')))!.value.toString(), 'ab')
  t.equal(ops.find((o) => o.key.equals(b('p')))!.value.toString(), 'xy')
})

t.test('deleteRange removes the earlier point ops it covers, not later ones', async (t) => {
  const x = new BatchBuilder(undefined)
  x.put('a', '1')
  x.put('c', '2')
  x.put('e', '3')
  x.deleteRange('b', 'e')
  x.put('d', '4')
  const ops = x.ops()
  t.same(ops.map((o) => [o.kind, o.key.toString()]), [
    [KeyKind.RangeDelete, 'b'],
    [KeyKind.Put, 'a'],
    [KeyKind.Put, 'e'],
    [KeyKind.Put, 'd'],
  ])
  t.equal(ops[0]!.value.toString(), 'e', 'range end')
})

t.test('validation', async (t) => {
  const x = new BatchBuilder(undefined)
  t.throws(() => x.put('', 'v'), { code: 'INVALID_ARGUMENT' })
  t.throws(() => x.put(Buffer.alloc(65_536), 'v'), { code: 'INVALID_ARGUMENT' })
  t.throws(() => x.put(5 as unknown as string, 'v'), { code: 'INVALID_ARGUMENT' })
  t.throws(() => x.merge('k', 'v'), { code: 'NO_MERGE_OPERATOR' })
  t.throws(() => x.deleteRange('b', 'a'), { code: 'INVALID_ARGUMENT' })
  const c = new BatchBuilder(counterOperator)
  t.throws(() => c.merge('k', 'short'), { code: 'INVALID_OPERAND' })
  x.deleteRange('a', 'a')
  t.same(x.ops(), [], 'an empty range is a no-op')
  x.put(Buffer.alloc(65_535, 1), '')
  t.equal(x.ops().length, 1, 'a 65,535-byte key is fine')
})

t.test('keys and values are copied', async (t) => {
  const key = Buffer.from('key')
  const value = Buffer.from('value')
  const x = new BatchBuilder(undefined)
  x.put(key, value)
  key.fill(0)
  value.fill(0)
  const op = x.ops()[0]!
  t.equal(op.key.toString(), 'key')
  t.equal(op.value.toString(), 'value')
})

/** The builder as it was before the in-order fast path: every point op through a Map. */
class MapOnlyBuilder {
  points = new Map<string, { kind: KeyKind; key: Buffer; value: Buffer }>()
  ranges: { start: Buffer; end: Buffer }[] = []
  put(k: Buffer, v: Buffer) {
    this.points.set(k.toString('latin1'), { kind: KeyKind.Put, key: k, value: v })
  }
  delete(k: Buffer) {
    this.points.set(k.toString('latin1'), { kind: KeyKind.Delete, key: k, value: Buffer.alloc(0) })
  }
  merge(k: Buffer, v: Buffer) {
    const id = k.toString('latin1')
    const prev = this.points.get(id)
    if (prev === undefined) this.points.set(id, { kind: KeyKind.Merge, key: k, value: v })
    else if (prev.kind === KeyKind.Merge) this.points.set(id, { kind: KeyKind.Merge, key: k, value: Buffer.concat([prev.value, v]) })
    else this.points.set(id, { kind: KeyKind.Put, key: k, value: prev.kind === KeyKind.Put ? Buffer.concat([prev.value, v]) : v })
  }
  deleteRange(s: Buffer, e: Buffer) {
    if (Buffer.compare(s, e) === 0) return
    for (const [id, op] of this.points) {
      if (Buffer.compare(op.key, s) >= 0 && Buffer.compare(op.key, e) < 0) this.points.delete(id)
    }
    this.ranges.push({ start: s, end: e })
  }
  summary(): string[] {
    return [
      ...this.ranges.map((r) => `${KeyKind.RangeDelete}:${r.start.toString()}=${r.end.toString('hex')}`),
      ...[...this.points.values()].map((op) => `${op.kind}:${op.key.toString()}=${op.value.toString('hex')}`),
    ]
  }
}

t.test('sorted runs, then any op out of order, coalesce exactly as a Map of every op does', async (t) => {
  let seed = Number(process.env['SEED'] ?? Date.now() % 1_000_000_007)
  t.comment(`seed ${seed} (rerun with SEED=${seed})`)
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  const key = (n: number) => b(`k${String(n).padStart(3, '0')}`)
  for (let round = 0; round < 300; round++) {
    const x = new BatchBuilder(appendOperator) // concatenates, as the reference does
    const model = new MapOnlyBuilder()
    let k = next(5)
    const sortedPrefix = next(30)
    for (let i = 0; i < 40; i++) {
      const n = i < sortedPrefix ? (k += 1 + next(3)) : next(60)
      const choice = next(i < sortedPrefix ? 3 : 4)
      const v = b(`v${i}`)
      if (choice === 0) { x.put(key(n), v); model.put(key(n), v) }
      else if (choice === 1) { x.delete(key(n)); model.delete(key(n)) }
      else if (choice === 2) { x.merge(key(n), v); model.merge(key(n), v) }
      else {
        const end = n + next(10)
        x.deleteRange(key(n), key(end))
        model.deleteRange(key(n), key(end))
      }
    }
    const got = summary(x)
    const want = model.summary()
    if (got.join(' ') !== want.join(' ')) {
      t.same(got, want, `round ${round}`)
      return
    }
  }
  t.pass('300 random batches agree with the Map-only builder')
})

t.test('the caller may reuse its buffers as soon as put() returns', async (t) => {
  const vfs = new MemVfs()
  let tree = await Tree.open('/reuse', { vfs })
  const key = b('k1')
  const value = b('value-1')
  const batch = tree.batch()
  batch.put(key, value) // in order: the ops array path
  key.write('k2')
  value.write('value-2')
  batch.put(key, value)
  key.write('k1')
  value.write('CHANGED')
  batch.put(b('k0'), b('out of order')) // moves the ops to the Map path
  value.write('AGAIN!!')
  await batch.write()
  t.equal(tree.get('k1')?.toString(), 'value-1')
  const put = tree.put(key, value)
  key.write('k3') // before the commit group runs
  value.write('LATE!!!')
  await put
  const check = (what: string) => {
    t.equal(tree.get('k1')?.toString(), 'AGAIN!!', `${what}: k1`)
    t.equal(tree.get('k2')?.toString(), 'value-2', `${what}: k2`)
    t.equal(tree.get('k0')?.toString(), 'out of order', `${what}: k0`)
    t.equal(tree.get('k3'), undefined, `${what}: k3`)
  }
  check('memtable')
  await tree.close()
  tree = await Tree.open('/reuse', { vfs }) // replays the WAL records
  check('after reopen')
  await tree.close()
})
