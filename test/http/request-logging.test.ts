// Request logging: one JSON line per request at debug (method, route pattern, status, time,
// request id), nothing per request at info, and a 5xx still logged at error level.
import t from 'tap'
import { Writable } from 'node:stream'
import { makeApp, createTree } from './helpers.js'

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString())
      callback()
    },
  })
  const lines = () => chunks.join('').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)
  return { stream, lines }
}

t.test('at debug, each request is one line with its route pattern, status and id', async (t) => {
  const log = capture()
  const { app } = await makeApp(t, { logger: { level: 'debug', stream: log.stream } })
  await createTree(t, app, 'logs')
  const res = await app.inject({ method: 'GET', url: '/v1/trees/logs/keys/secret-key-bytes' })
  t.equal(res.statusCode, 404)
  const completed = log.lines().filter((l) => l.msg === 'request completed')
  t.equal(completed.length, 2, 'one line per request (create + get)')
  const get = completed[1]!
  t.match(get, { level: 20, method: 'GET', route: '/v1/trees/:tree/keys/:key', statusCode: 404 })
  t.equal(get.reqId, res.headers['x-request-id'], 'the line carries the request id the client saw')
  t.notOk(JSON.stringify(log.lines()).includes('secret-key-bytes'), 'no key bytes in any log line')
})

t.test('at info, requests are not logged one by one', async (t) => {
  const log = capture()
  const { app } = await makeApp(t, { logger: { level: 'info', stream: log.stream } })
  await createTree(t, app, 'quiet')
  for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url: '/v1/trees/quiet/keys/k' })
  t.same(log.lines().filter((l) => l.msg === 'request completed' || l.msg === 'incoming request'), [])
})

t.test('request loggers are made on first use, and write what a pino child writes', async (t) => {
  const { default: pino } = await import('pino')
  const { lazyChildLoggerFactory } = await import('../../src/http/request-logger.js')
  const log = capture()
  const parent = pino({ level: 'warn' }, log.stream)
  let children = 0
  const original = parent.child
  parent.child = function (this: typeof parent, bindings, options) {
    if (this === parent) children += 1 // children of the parent: one per request that wrote
    return original.call(this, bindings, options)
  } as typeof parent.child
  const factory = lazyChildLoggerFactory as unknown as (l: unknown, b: object, o: object) => typeof parent
  const quiet = factory(parent, { reqId: 'r-1' }, {})
  quiet.info('not written')
  quiet.debug({ a: 1 }, 'not written either')
  t.equal(children, 0, 'no child made while nothing is written')
  t.equal(quiet.level, 'warn')
  t.notOk(quiet.isLevelEnabled('info'))
  const loud = factory(parent, { reqId: 'r-2' }, {})
  loud.warn({ code: 'X' }, 'written')
  loud.error('also written')
  loud.child({ sub: 1 }).error('from a grandchild')
  t.equal(children, 1, 'one child, made at the first enabled line')
  const lines = log.lines()
  t.match(lines, [
    { level: 40, reqId: 'r-2', code: 'X', msg: 'written' },
    { level: 50, reqId: 'r-2', msg: 'also written' },
    { level: 50, reqId: 'r-2', sub: 1, msg: 'from a grandchild' },
  ])
  t.equal(lines.length, 3)
  const eager = factory(parent, { reqId: 'r-3' }, { level: 'debug' })
  t.equal(children, 2, 'a route log level makes the child at once')
  eager.debug('at the route level')
  t.match(log.lines()[3], { level: 20, reqId: 'r-3' })
})
