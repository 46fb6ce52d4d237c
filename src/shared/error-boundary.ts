/**
 * One bad peer costs one call, never the process: an error boundary per call.
 *
 * Each call runs its work inside {@link runInScope}. Node propagates that
 * async context to everything the call starts from there — timers, socket
 * and child-process callbacks, promise continuations — so an exception that
 * escapes any of them can be traced back to its call. {@link installErrorBoundary}
 * takes the process's uncaught exceptions (through
 * `process.setUncaughtExceptionCaptureCallback`, so nothing else sees them
 * first) and unhandled rejections: inside a scope, the scope's `fail` ends
 * that call (FAILED, with the error) and releases its resources while every
 * other call carries on; outside any scope, the exception goes to the
 * process's other 'uncaughtException' listeners, or, with none, is printed
 * and the process exits 1 as Node would (its state is unknown).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What an error inside a scope is reported to. */
export interface ErrorScope {
  /** For logs. */
  readonly name: string;
  /** Ends the scope's work (a call: FAILED with the error). Must not throw. */
  fail(error: Error): void;
}

const scopes = new AsyncLocalStorage<ErrorScope>();
let installs = 0;
let onRejection: ((reason: unknown) => void) | null = null;

/** Runs `fn` (and everything it starts, asynchronously too) inside `scope`. */
export function runInScope<T>(scope: ErrorScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope the current code runs in, if any. */
export function currentScope(): ErrorScope | undefined {
  return scopes.getStore();
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Hands an error to the current scope (its call ends); false when there is
 * none. For errors caught on the way (an event listener that threw) that
 * must still end the call they belong to.
 */
export function failCurrentScope(e: unknown): boolean {
  const scope = scopes.getStore();
  if (scope === undefined) return false;
  try {
    scope.fail(asError(e));
  } catch {
    // A failing fail must not turn a call's error into the process's.
  }
  return true;
}

/**
 * Installs the process-wide handlers (once per process, reference-counted:
 * every `startGateway` installs and its close uninstalls). `log` gets the
 * unhandled rejections that belong to no scope, which are logged, not fatal.
 * @returns the uninstaller.
 */
export function installErrorBoundary(log: { error(obj: object, msg: string): void }): () => void {
  if (installs++ === 0) {
    process.setUncaughtExceptionCaptureCallback((e) => {
      if (failCurrentScope(e)) return;
      if (process.listenerCount('uncaughtException') > 0) {
        (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', asError(e), 'uncaughtException');
        return;
      }
      process.stderr.write(`uncaught exception outside any call: ${asError(e).stack ?? String(e)}\n`);
      process.exit(1);
    });
    onRejection = (reason) => {
      if (!failCurrentScope(reason)) log.error({ err: asError(reason) }, 'unhandled promise rejection outside any call');
    };
    process.on('unhandledRejection', onRejection);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--installs > 0) return;
    process.setUncaughtExceptionCaptureCallback(null);
    if (onRejection !== null) process.off('unhandledRejection', onRejection);
    onRejection = null;
  };
}
