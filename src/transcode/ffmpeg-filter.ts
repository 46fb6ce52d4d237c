import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ParseError, type Logger } from '../shared/index.js';

export interface CodecFilterHandlers {
  /** Parses a chunk of ffmpeg's stdout; a ParseError kills ffmpeg (its output cannot be trusted). */
  onOutput(chunk: Buffer): void;
  /** ffmpeg is gone: 'close' (after stdout drained) or a failed start (code and signal null). */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * The shell both transcoders share: ffmpeg as a pure codec filter (bytes in on
 * stdin, bytes out on stdout, no socket), stdin errors (EPIPE once ffmpeg is
 * gone) left to the exit handler, and the tail of stderr kept for the crash
 * log. Returns the child and a reader of that tail.
 */
export function spawnCodecFilter(ffmpegPath: string, args: readonly string[], log: Logger, h: CodecFilterHandlers):
  { child: ChildProcessWithoutNullStreams; stderrTail: () => string } {
  const child = spawn(ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  child.stdin.on('error', (err) => log.debug({ err }, 'ffmpeg stdin error'));
  child.stdout.on('data', (d: Buffer) => {
    try {
      h.onOutput(d);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      log.error({ err: error }, 'unreadable output from ffmpeg');
      child.kill('SIGKILL');
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    tail = (tail + s).slice(-2000);
  });
  child.on('error', (err) => {
    log.error({ err }, 'ffmpeg failed to start');
    h.onExit(null, null);
  });
  // 'close' comes after stdout is drained, so every frame is out before the exit handler runs.
  child.on('close', (code, signal) => h.onExit(code, signal));
  return { child, stderrTail: () => tail };
}
