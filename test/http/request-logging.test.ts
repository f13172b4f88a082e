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
