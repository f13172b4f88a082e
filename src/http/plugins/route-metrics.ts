/**
 * Request counters and latency histograms by (method, route pattern[, status]), kept in plain
 * arrays and exported to a prom-client Registry as custom metrics (prom-client's Registry reads
 * any object with `name` and `get()`).
 *
 * Why not prom-client's Counter and Histogram: each inc()/observe() of theirs, even on a cached
 * label child, hashes the label object and validates it; with one counter and one histogram per
 * request that was the largest share of the service's own CPU in a GET (docs/benchmarks-http.md).
 * Here a request costs one Map lookup of a short string, a bucket search over 14 bounds and a
 * few additions; the label objects and the text are built at scrape time only.
 *
 * Invariants:
 * - The text is what prom-client's Counter and Histogram would export for the same
 *   observations: `_bucket` samples cumulative with `le` (the bounds, then `+Inf`), then `_sum`
 *   and `_count`; a series exists from its first observation on.
 * - The label sets are bounded by the caller (route patterns, methods, statuses).
 */
import type { Metric, Registry } from 'prom-client'

interface RouteSeries {
  method: string
  route: string
  /** Answers by status code. */
  statuses: Map<number, number>
  /** Observations per bucket, NOT cumulative (the last slot is past the last bound). */
  buckets: Float64Array
  sum: number
  count: number
}

interface MetricValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

interface MetricData {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: MetricValue[]
  aggregator: 'sum'
}

export interface RouteMetricsNames {
  counter: { name: string; help: string }
  histogram: { name: string; help: string }
}

export class RouteMetrics {
  private readonly series = new Map<string, RouteSeries>()

  constructor(private readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new TypeError('histogram bounds must increase')
    }
  }

  /** Counts one answer of `status` to `method route`, which took `seconds`. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`
    let s = this.series.get(key)
    if (s === undefined) {
      s = { method, route, statuses: new Map(), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1)
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && seconds > bounds[i]!) i++
    s.buckets[i]! += 1
    s.sum += seconds
    s.count += 1
  }

  /** Registers the counter (by method, route, status) and the histogram (by method, route). */
  register(registry: Registry, names: RouteMetricsNames): void {
    const counter = names.counter
    const histogram = names.histogram
    const reset = (): void => this.series.clear()
    registry.registerMetric(customMetric(counter.name, reset, () => ({
      name: counter.name, help: counter.help, type: 'counter', aggregator: 'sum', values: this.counterValues(),
    })))
    registry.registerMetric(customMetric(histogram.name, reset, () => ({
      name: histogram.name, help: histogram.help, type: 'histogram', aggregator: 'sum', values: this.histogramValues(histogram.name),
    })))
  }

  private counterValues(): MetricValue[] {
    const values: MetricValue[] = []
    for (const s of this.series.values()) {
      for (const [status, count] of s.statuses) values.push({ labels: { method: s.method, route: s.route, status: String(status) }, value: count })
    }
    return values
  }

  private histogramValues(name: string): MetricValue[] {
    const values: MetricValue[] = []
    for (const s of this.series.values()) {
      let cumulative = 0
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.buckets[i]!
        values.push({ labels: { le: this.bounds[i]!, method: s.method, route: s.route }, value: cumulative, metricName: `${name}_bucket` })
      }
      values.push({ labels: { le: '+Inf', method: s.method, route: s.route }, value: s.count, metricName: `${name}_bucket` })
      values.push({ labels: { method: s.method, route: s.route }, value: s.sum, metricName: `${name}_sum` })
      values.push({ labels: { method: s.method, route: s.route }, value: s.count, metricName: `${name}_count` })
    }
    return values
  }
}

/** An object prom-client's Registry exports like its own metrics (it calls get() and reset()). */
function customMetric(name: string, reset: () => void, get: () => MetricData): Metric {
  return { name, get: () => Promise.resolve(get()), reset } as unknown as Metric
}
