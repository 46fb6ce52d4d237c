/** Polling helpers for tests that watch real processes and sockets. */

/**
 * Resolves with the first truthy value `fn` returns, polling every `intervalMs`;
 * rejects with `message` (or a generic one) after `timeoutMs`.
 */
export async function waitUntil<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 50,
  message?: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${message ?? 'waitUntil: condition not met'} within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Rejects with a clear message when `p` does not settle within `timeoutMs`. */
export async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
