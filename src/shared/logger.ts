import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Paths redacted from every log line: passwords, stream keys and PINs never reach the logs. */
export const REDACT_PATHS = [
  'sipPassword',
  '*.sipPassword',
  'password',
  '*.password',
  'rtmpStream',
  '*.rtmpStream',
  'authorization',
  '*.authorization',
  'secret',
  '*.secret',
  // A conference PIN (SPEC §9.7 joinDtmf) and DTMF digits sent through REST.
  'joinDtmf',
  '*.joinDtmf',
  'dtmf',
  '*.dtmf',
];

/** The root logger; modules take `log.child({ callId })` per call. */
export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination as pino.DestinationStream | undefined,
  );
}

/** A logger that drops everything, for tests and defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
