/** Sequence-number and timestamp arithmetic modulo 2^16 / 2^32 (RFC 3550 §A.1). */

/** Signed distance b - a of two 16-bit sequence numbers. */
export function seqDiff(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

/** Signed distance b - a of two 32-bit RTP timestamps. */
export function tsDiff(a: number, b: number): number {
  const d = (b - a) >>> 0;
  return d >= 0x80000000 ? d - 0x100000000 : d;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
