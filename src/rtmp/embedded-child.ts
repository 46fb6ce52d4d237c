/**
 * The embedded viewer server's own process, forked and supervised by
 * embedded.ts: node-media-server (embedded-nms.ts) with the options the
 * gateway sends over IPC, its log lines and readiness sent back the same way.
 *
 * Anything a viewer's bytes can do to node-media-server ends here: an
 * uncaught exception is reported and the process exits (the gateway restarts
 * it); it also exits when the gateway goes away (IPC disconnect) and, after
 * closing its ports, on SIGTERM.
 */
import { runNodeMediaServer, type NmsLog, type NmsOptions } from './embedded-nms.js';

/** Gateway → child. */
export type ToChild = { type: 'start'; options: Omit<NmsOptions, 'log'> };
/** Child → gateway. */
export type FromChild =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'log'; level: 'error' | 'warn' | 'info' | 'debug'; msg: string };

function send(m: FromChild, then?: () => void): void {
  if (process.connected && process.send) process.send(m, undefined, {}, () => then?.());
  else then?.();
}

/** Reports a fatal error and exits: the IPC message is flushed first (but never waited for long). */
function die(code: number, m: FromChild): void {
  setTimeout(() => process.exit(code), 500).unref();
  send(m, () => process.exit(code));
}

const log: NmsLog = {
  error: (msg) => send({ type: 'log', level: 'error', msg }),
  warn: (msg) => send({ type: 'log', level: 'warn', msg }),
  info: (msg) => send({ type: 'log', level: 'info', msg }),
  debug: (msg) => send({ type: 'log', level: 'debug', msg }),
};

/** Exit code after an uncaught exception: embedded.ts logs it as a crash. */
const CRASH_EXIT_CODE = 70;

process.on('uncaughtException', (e) => die(CRASH_EXIT_CODE, { type: 'log', level: 'error', msg: `crashed: ${e.stack ?? e.message}` }));
process.on('unhandledRejection', (e) => die(CRASH_EXIT_CODE, { type: 'log', level: 'error', msg: `crashed: ${e instanceof Error ? e.stack ?? e.message : String(e)}` }));
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: the gateway decides when this process stops (SIGTERM).
process.on('SIGINT', () => undefined);

process.once('message', (m: ToChild) => {
  if (m.type !== 'start') return;
  runNodeMediaServer({ ...m.options, log }).then((server) => {
    const stop = (): void => {
      void server.close().finally(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    send({ type: 'ready' });
  }, (e: unknown) => die(2, { type: 'failed', message: (e as Error).message }));
});
