import { EventEmitter } from 'node:events';
import { failCurrentScope } from './error-boundary.js';

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * A typed event emitter whose `emit` never throws: a listener error is logged
 * through `onListenerError` and the other listeners still run (mediasoup's
 * safeEmit); inside a call's error scope the error then ends that call
 * (error-boundary.ts), since the call's state can no longer be trusted.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  readonly #ee = new EventEmitter();

  constructor(private readonly onListenerError: (event: string, error: unknown) => void = defaultOnError) {
    this.#ee.setMaxListeners(0);
  }

  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.#ee.on(event, listener as Listener<unknown[]>);
    return this;
  }

  once<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.#ee.once(event, listener as Listener<unknown[]>);
    return this;
  }

  off<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.#ee.off(event, listener as Listener<unknown[]>);
    return this;
  }

  removeAllListeners(): void {
    this.#ee.removeAllListeners();
  }

  listenerCount<K extends keyof Events & string>(event: K): number {
    return this.#ee.listenerCount(event);
  }

  /** Calls every listener; one listener's error never reaches the emitter or the others. */
  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    for (const l of this.#ee.rawListeners(event)) {
      try {
        (l as Listener<Events[K]>)(...args);
      } catch (error) {
        this.onListenerError(event, error);
        failCurrentScope(error);
      }
    }
  }
}

function defaultOnError(event: string, error: unknown): void {
  console.error(`listener of "${event}" threw`, error);
}
