/**
 * Conformance: MVCC and the tree's life. Snapshot isolation, atomic batches at one seqno (and
 * their in-order semantics), half-open deleteRange, reads at an old seqno after a flush and
 * their refusal after a compaction, CLOSED after close, double close, reopen keeping data and
 * seqno, and LOCKED for a second open of an open tree.
 */
import type { Tree } from '../../../src/engine/index.js'
import { ErrorCode } from '../../../src/engine/index.js'
import { bytes, expectCode, type TreeTest } from './conformance-support.js'

const kv = (k: string, v: string): [Buffer, Buffer] => [bytes(k), bytes(v)]

function scan(tree: Tree, seqno?: number): string[] {
  const it = seqno === undefined ? tree.iterator() : tree.iterator({ seqno })
  return it.all().map(([k, v]) => `${k.toString('latin1')}=${v.toString('latin1')}`)
}

export function lifecycleTests(test: TreeTest): void {
  mvccTests(test)
  lifeTests(test)
}

/** Snapshots, batches and range deletes. */
function mvccTests(test: TreeTest): void {
  test('snapshot isolation', { memtableBytes: 4096 }, async (t, tree) => {
    await tree.put('a', '1')
    await tree.put('b', '1')
    const snap = tree.snapshot()
    t.equal(snap.seqno, tree.seqno, 'a snapshot pins the newest seqno')
    await tree.put('a', '2')
    await tree.delete('b')
    await tree.put('c', '3')
    await tree.deleteRange('a', 'b')
    const check = (label: string): void => {
      t.same(tree.get('a', { seqno: snap.seqno }), bytes('1'), `${label}: overwritten then range-deleted key at the snapshot`)
      t.same(tree.get('b', { seqno: snap.seqno }), bytes('1'), `${label}: deleted key at the snapshot`)
      t.equal(tree.get('c', { seqno: snap.seqno }), undefined, `${label}: later key invisible at the snapshot`)
      t.same(scan(tree, snap.seqno), ['a=1', 'b=1'], `${label}: scan at the snapshot`)
      t.same(scan(tree), ['c=3'], `${label}: scan at the newest seqno`)
    }
    check('memtable')
    await tree.flush()
    check('flushed')
    await tree.compact()
    check('compacted while the snapshot is held')
    snap.release()
    snap.release()
    t.same(scan(tree), ['c=3'], 'release is idempotent')
  })

  test('batch: atomic, one seqno, ops in order', {}, async (t, tree) => {
    await tree.put('c', 'old')
    await tree.put('x', 'old')
    const before = tree.seqno
    const s = await tree.batch().put('a', '1').put('b', '2').delete('c').put('d', '4').write()
    t.ok(s > before, 'the batch gets a new seqno')
    t.equal(tree.seqno, s, 'tree.seqno is the batch seqno')
    for (let seqno = before; seqno < s; seqno++) t.same(scan(tree, seqno), ['c=old', 'x=old'], `nothing of the batch at ${seqno}`)
    t.same(scan(tree, s), ['a=1', 'b=2', 'd=4', 'x=old'], 'all of the batch at its seqno')
    const s2 = await tree
      .batch()
      .put('p', '1')
      .delete('p') // put then delete: absent
      .delete('q')
      .put('q', '2') // delete then put: present
      .put('r', '1')
      .put('r', '2') // the later put wins
      .put('x', 'new')
      .deleteRange('x', 'y') // removes the batch's own earlier put and the older value
      .deleteRange('m', 'n')
      .put('m', 'kept') // a put after a deleteRange of the same batch stays
      .write()
    t.equal(s2, tree.seqno)
    t.same(scan(tree), ['a=1', 'b=2', 'd=4', 'm=kept', 'q=2', 'r=2'], 'ops apply in order')
    await tree.flush()
    t.same(scan(tree), ['a=1', 'b=2', 'd=4', 'm=kept', 'q=2', 'r=2'], 'same after flush')
    const emptySeqno = await tree.batch().write()
    t.ok(emptySeqno <= tree.seqno && tree.seqno === s2, 'an empty batch takes no seqno')
  })

  test('batch merges (append operator)', { mergeOperator: 'append' }, async (t, tree) => {
    await tree.put('k', 'a')
    await tree.batch().merge('k', 'b').merge('k', 'c').put('j', 'x').merge('j', 'y').delete('i').merge('i', 'z').write()
    t.same(scan(tree), ['i=z', 'j=xy', 'k=abc'])
  })

  test('deleteRange is half-open', { memtableBytes: 4096, tableBytes: 4096, blockBytes: 256 }, async (t, tree) => {
    for (const k of ['a', 'b', 'ba', 'bz', 'c', 'd']) await tree.put(k, k)
    await tree.flush()
    await tree.deleteRange('b', 'c')
    t.same(scan(tree), ['a=a', 'c=c', 'd=d'], 'start included, end excluded (tombstone in the memtable over a table)')
    t.same(tree.iterator({ reverse: true }).all(), [kv('d', 'd'), kv('c', 'c'), kv('a', 'a')], 'reverse')
    t.equal(tree.get('ba'), undefined)
    await tree.flush()
    t.same(scan(tree), ['a=a', 'c=c', 'd=d'], 'tombstone in a table')
    await tree.put('b', 'again')
    t.same(scan(tree), ['a=a', 'b=again', 'c=c', 'd=d'], 'a put after the deleteRange is visible')
    await tree.compact()
    t.same(scan(tree), ['a=a', 'b=again', 'c=c', 'd=d'], 'compacted')
    const s = tree.seqno
    t.equal(await tree.deleteRange('a', 'a'), s, 'an empty range deletes nothing and takes no seqno')
    t.same(scan(tree), ['a=a', 'b=again', 'c=c', 'd=d'])
    await expectCode(t, () => tree.deleteRange('b', 'a'), ErrorCode.INVALID_ARGUMENT, 'start > end')
    for (let i = 0; i < 400; i++) await tree.put(`k${String(i).padStart(4, '0')}`, 'v'.repeat(40))
    await tree.compact() // many tables
    await tree.deleteRange('k0100', 'k0300')
    t.equal(scan(tree).length, 4 + 200, 'a range across many tables')
    await tree.compact()
    t.equal(scan(tree).length, 4 + 200, 'and after compaction')
    t.equal(tree.get('k0100'), undefined)
    t.same(tree.get('k0300'), bytes('v'.repeat(40)))
  })
}

/** Old seqnos, close, reopen and the lock. */
function lifeTests(test: TreeTest): void {
  test('reads at an old seqno after flush, refused after compact', {}, async (t, tree) => {
    const s1 = await tree.put('a', '1')
    const s2 = await tree.put('a', '2')
    const s3 = await tree.delete('a')
    await tree.flush()
    t.same(tree.get('a', { seqno: s1 }), bytes('1'), 'seqno 1 after flush')
    t.same(tree.get('a', { seqno: s2 }), bytes('2'), 'seqno 2 after flush')
    t.equal(tree.get('a', { seqno: s3 }), undefined, 'seqno 3 after flush')
    t.same(scan(tree, s1), ['a=1'], 'scan at seqno 1 after flush')
    await expectCode(t, () => tree.get('a', { seqno: tree.seqno + 1 }), ErrorCode.INVALID_ARGUMENT, 'a seqno ahead of the tree')
    const pinned = tree.snapshot()
    await tree.put('a', '4')
    await tree.compact()
    await expectCode(t, () => tree.get('a', { seqno: s1 }), ErrorCode.SEQNO_UNAVAILABLE, 'unpinned seqno after compact')
    await expectCode(t, () => tree.iterator({ seqno: s2 }), ErrorCode.SEQNO_UNAVAILABLE, 'unpinned iterator seqno after compact')
    t.equal(tree.get('a', { seqno: pinned.seqno }), undefined, 'a snapshot seqno stays readable')
    t.same(tree.get('a'), bytes('4'))
    pinned.release()
  })

  test('close rejects calls with CLOSED; double close is fine', {}, async (t, tree) => {
    await tree.put('a', '1')
    const snap = tree.snapshot()
    await tree.close()
    await tree.close()
    await expectCode(t, () => tree.get('a'), ErrorCode.CLOSED, 'get')
    await expectCode(t, () => tree.put('a', '2'), ErrorCode.CLOSED, 'put')
    await expectCode(t, () => tree.delete('a'), ErrorCode.CLOSED, 'delete')
    await expectCode(t, () => tree.deleteRange('a', 'b'), ErrorCode.CLOSED, 'deleteRange')
    await expectCode(t, () => tree.iterator(), ErrorCode.CLOSED, 'iterator')
    await expectCode(t, () => tree.batch().put('a', '3').write(), ErrorCode.CLOSED, 'batch')
    await expectCode(t, () => tree.snapshot(), ErrorCode.CLOSED, 'snapshot')
    await expectCode(t, () => tree.flush(), ErrorCode.CLOSED, 'flush')
    await expectCode(t, () => tree.compact(), ErrorCode.CLOSED, 'compact')
    snap.release()
  })

  test('close waits for writes in flight', {}, async (t, tree, target) => {
    const writes = [tree.put('a', '1'), tree.batch().put('b', '2').delete('a').write(), tree.put('c', '3')]
    await tree.close()
    const seqnos = await Promise.all(writes)
    t.ok(seqnos[0]! < seqnos[1]! && seqnos[1]! < seqnos[2]!, 'every write issued before close resolved, in order')
    tree = await target.open()
    t.same(scan(tree), ['b=2', 'c=3'], 'and is there after reopen')
    t.equal(tree.seqno, seqnos[2])
    await tree.close()
  })

  test('reopen keeps data and seqno', { memtableBytes: 4096, sync: 'none' }, async (t, tree, target) => {
    for (let i = 0; i < 300; i++) await tree.put(`k${String(i).padStart(3, '0')}`, `v${i}`)
    await tree.delete('k005')
    await tree.deleteRange('k100', 'k200')
    await tree.put('k150', 'back')
    const expected = scan(tree)
    const seqno = tree.seqno
    t.equal(expected.length, 300 - 1 - 100 + 1)
    await tree.close()
    tree = await target.open({ memtableBytes: 4096, sync: 'none' })
    t.equal(tree.seqno, seqno, 'seqno survives')
    t.same(scan(tree), expected, 'data survives')
    await expectCode(t, () => tree.get('k000', { seqno: seqno - 1 }), ErrorCode.SEQNO_UNAVAILABLE, 'history before a reopen is not readable')
    t.ok((await tree.put('new', 'x')) > seqno, 'seqnos continue after reopen')
    await tree.compact()
    await tree.close()
    tree = await target.open({ memtableBytes: 4096, sync: 'none' })
    t.same(scan(tree), [...expected, 'new=x'].sort(), 'after compaction and a second reopen')
    await tree.close()
  })

  test('a second open of an open tree is LOCKED', {}, async (t, tree, target) => {
    await tree.put('a', '1')
    await expectCode(t, () => target.open(), ErrorCode.LOCKED, 'second open')
    t.same(tree.get('a'), bytes('1'), 'the first handle still works')
    await tree.close()
    const again = await target.open()
    t.same(again.get('a'), bytes('1'), 'open after close')
    await again.close()
  })
}
