/**
 * ffprobe as the judge of an output: decodes N seconds of an RTMP / HTTP-FLV
 * stream or a file and summarises what it saw. Any line ffprobe prints at
 * `-v error` counts as an error (decode errors, missing keyframes, ...).
 */
import { spawn } from 'node:child_process';

/** What {@link probeStream} saw of the video track. */
export interface ProbedVideo {
  codec: string;
  profile: string | null;
  width: number;
  height: number;
  frames: number;
  keyframes: number;
  /** Presentation times in seconds, in decode order. */
  pts: number[];
  /** Whether the first decoded frame is a keyframe. */
  startsWithKeyframe: boolean;
}

/** What {@link probeStream} saw of the audio track. */
export interface ProbedAudio {
  codec: string;
  sampleRate: number;
  channels: number;
  frames: number;
  pts: number[];
}

/** Result of {@link probeStream}. */
export interface ProbeResult {
  video: ProbedVideo | null;
  audio: ProbedAudio | null;
  /** Span of the frame times seen, over both tracks, in seconds. */
  durationS: number;
  /** ffprobe's error lines, plus a line for a timeout, a non-zero exit or unparsable output. */
  errors: string[];
  exitCode: number | null;
}

/** Options of {@link probeStream}. */
export interface ProbeOptions {
  /** Seconds of stream to read (`-read_intervals %+N`); whole input when absent. */
  seconds?: number;
  /** Kill ffprobe after this long; default `seconds * 1000 + 15000`, or 30 s. */
  timeoutMs?: number;
  /** Extra input options placed before `-i`. */
  inputArgs?: readonly string[];
}

interface RawStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
}

interface RawFrame {
  media_type?: string;
  stream_index?: number;
  key_frame?: number;
  best_effort_timestamp_time?: string;
  pkt_dts_time?: string;
}

/** Builds the summary from ffprobe's JSON. Pure; exported for unit tests. */
export function summarizeProbe(json: { streams?: RawStream[]; frames?: RawFrame[] }): Omit<ProbeResult, 'errors' | 'exitCode'> {
  const streams = json.streams ?? [];
  const frames = json.frames ?? [];
  const vs = streams.find((s) => s.codec_type === 'video');
  const as = streams.find((s) => s.codec_type === 'audio');
  const time = (f: RawFrame): number => Number(f.best_effort_timestamp_time ?? f.pkt_dts_time ?? NaN);
  const vFrames = frames.filter((f) => f.media_type === 'video' && (vs?.index === undefined || f.stream_index === vs.index));
  const aFrames = frames.filter((f) => f.media_type === 'audio' && (as?.index === undefined || f.stream_index === as.index));
  const video: ProbedVideo | null = vs
    ? {
        codec: vs.codec_name ?? '',
        profile: vs.profile ?? null,
        width: vs.width ?? 0,
        height: vs.height ?? 0,
        frames: vFrames.length,
        keyframes: vFrames.filter((f) => f.key_frame === 1).length,
        pts: vFrames.map(time).filter((t) => Number.isFinite(t)),
        startsWithKeyframe: vFrames[0]?.key_frame === 1,
      }
    : null;
  const audio: ProbedAudio | null = as
    ? {
        codec: as.codec_name ?? '',
        sampleRate: Number(as.sample_rate ?? 0),
        channels: as.channels ?? 0,
        frames: aFrames.length,
        pts: aFrames.map(time).filter((t) => Number.isFinite(t)),
      }
    : null;
  const all = [...(video?.pts ?? []), ...(audio?.pts ?? [])];
  const durationS = all.length > 0 ? Math.max(...all) - Math.min(...all) : 0;
  return { video, audio, durationS };
}

/**
 * Probes `url` (rtmp://, http:// FLV, or a file path) by decoding its frames.
 * Never rejects for a bad stream: problems are in `errors`.
 */
export function probeStream(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? (opts.seconds !== undefined ? opts.seconds * 1000 + 15_000 : 30_000);
  const isNetwork = /^[a-z]+:\/\//i.test(url);
  const args = ['-hide_banner', '-v', 'error'];
  // rw_timeout (microseconds): a stalled network read fails instead of hanging.
  if (isNetwork) args.push('-rw_timeout', String(Math.max(1, Math.round(timeoutMs * 1000))));
  if (opts.seconds !== undefined) args.push('-read_intervals', `%+${opts.seconds}`);
  args.push(
    '-show_entries',
    'stream=index,codec_type,codec_name,profile,width,height,sample_rate,channels' +
      ':frame=media_type,stream_index,key_frame,best_effort_timestamp_time,pkt_dts_time',
    '-of', 'json',
    ...(opts.inputArgs ?? []),
    '-i', url,
  );
  return new Promise((resolve) => {
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 256 * 1024) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let done = false;
    const finish = (code: number | null, spawnError?: Error): void => {
      if (done) return; // 'error' may be followed by 'close'
      done = true;
      clearTimeout(timer);
      const errors = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
      if (spawnError) errors.push(`ffprobe failed to start: ${spawnError.message}`);
      if (timedOut) errors.push(`ffprobe timed out after ${timeoutMs} ms`);
      else if (code !== 0 && !spawnError) errors.push(`ffprobe exited with code ${code}`);
      let summary: Omit<ProbeResult, 'errors' | 'exitCode'> = { video: null, audio: null, durationS: 0 };
      const text = Buffer.concat(out).toString('utf8');
      if (text.trim()) {
        try {
          summary = summarizeProbe(JSON.parse(text) as { streams?: RawStream[]; frames?: RawFrame[] });
        } catch (err) {
          errors.push(`ffprobe output is not JSON: ${(err as Error).message}`);
        }
      }
      resolve({ ...summary, errors, exitCode: code });
    };
    child.once('error', (err) => finish(null, err));
    child.once('close', (code) => finish(code));
  });
}
