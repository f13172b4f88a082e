/**
 * The help texts and exit codes of `strata` (main.ts). The serve help is generated from
 * SERVE_FLAGS, so a flag cannot exist without being listed.
 */
import { SERVE_FLAGS } from './serve-config.js'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** Commands in help order; `coming` ones are placeholders for the next issues. */
export const COMMANDS = [
  { name: 'serve', coming: false, usage: 'serve --data DIR [--host 127.0.0.1] [--port 7070] [--tokens FILE] ...', help: 'serve every tree under --data over HTTP (the leader)' },
  { name: 'follow', coming: false, usage: 'follow --leader URL --token TOKEN --data DIR [--port 7071] [--trees a,b] [--wal] ...', help: 'a read-only follower of a leader: replicates its trees and serves their reads' },
  { name: 'backup', coming: false, usage: 'backup --url URL --token TOKEN --tree NAME --out FILE', help: "stream a tree's checkpoint to a verified .tar or .tar.zst" },
  { name: 'restore', coming: false, usage: 'restore --file FILE --data DIR --tree NAME', help: 'unpack and verify a backup into DIR/NAME, offline' },
] as const

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'usage: strata <command> [flags]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.help}`),
    '',
    'Run `strata <command> --help` for the flags of a command.',
    '',
    serveHelp(),
  ].join('\n')
}

export function serveHelp(): string {
  const labels = SERVE_FLAGS.map((f) => (f.value === '' ? `--${f.name}` : `--${f.name} ${f.value}`))
  const width = Math.max(...labels.map((l) => l.length)) + 2
  return [
    'usage: strata serve [flags]',
    '',
    'Serves every tree under --data (a tree is a sub-directory) at /v1 (see openapi.yaml).',
    '',
    'flags:',
    ...SERVE_FLAGS.map((f, i) => `  ${labels[i]!.padEnd(width)}${f.help}`),
    '',
    'exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 runtime failure, 2 usage error',
  ].join('\n')
}

