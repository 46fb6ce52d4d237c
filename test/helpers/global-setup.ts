/** Vitest global setup (placeholder while the harness is being written). */
export default async function globalSetup(): Promise<void> {}
