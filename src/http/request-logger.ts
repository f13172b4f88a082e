/**
 * Per-request loggers made on first use. Fastify gives every request a pino child logger bound
 * to its request id; pino's child() serialises the bindings and builds a logger object, about a
 * microsecond per request, although at the default levels a successful request logs nothing
 * (app.ts logs requests at debug). This factory (Fastify's `childLoggerFactory`) hands out a
 * stand-in that makes the real child only when a line is written at an enabled level.
 *
 * Invariant: every line written through the stand-in is the line the real child would write
 * (same bindings, same options, same level checks); the stand-in only defers making it.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>
type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** What the stand-in needs of pino (every pino logger has these). */
interface PinoLike extends FastifyBaseLogger {
  isLevelEnabled(level: string): boolean
}

class LazyChildLogger {
  #real: PinoLike | undefined

  constructor(private readonly parent: PinoLike, private readonly bindings: Bindings, private readonly options: ChildOptions) {}

  private real(): PinoLike {
    this.#real ??= this.parent.child(this.bindings, this.options) as PinoLike
    return this.#real
  }

  get level(): string {
    return (this.#real ?? this.parent).level
  }

  set level(level: string) {
    this.real().level = level
  }

  isLevelEnabled(level: string): boolean {
    return (this.#real ?? this.parent).isLevelEnabled(level)
  }

  private write(level: LevelName, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return
    ;(this.real()[level] as (...a: unknown[]) => void)(...args)
  }

  fatal(...args: unknown[]): void { this.write('fatal', args) }
  error(...args: unknown[]): void { this.write('error', args) }
  warn(...args: unknown[]): void { this.write('warn', args) }
  info(...args: unknown[]): void { this.write('info', args) }
  debug(...args: unknown[]): void { this.write('debug', args) }
  trace(...args: unknown[]): void { this.write('trace', args) }
  silent(): void {}

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.real().child(bindings, options)
  }
}

/**
 * Fastify's `childLoggerFactory` (only with a pino logger: with `logger: false` Fastify needs
 * no children). Routes that set their own log level or serializers get a real child at once.
 */
export const lazyChildLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) => {
  const pino = logger as PinoLike
  if (typeof pino.isLevelEnabled !== 'function' || options.level !== undefined || options.serializers !== undefined) {
    return logger.child(bindings, options)
  }
  return new LazyChildLogger(pino, bindings, options) as unknown as FastifyBaseLogger
}
