/**
 * Generated video made with libavcodec (node-av), synchronously, on a codec
 * worker thread (see slate.ts for the cached, asynchronous side): the H.264
 * slate loop (black, or a still image letterboxed into the frame) and the
 * black VP8 loop. Made once per process and option set; no ffmpeg process.
 */
import { readFileSync } from 'node:fs';
import { Codec, CodecContext, FFmpegError, Frame, Log, Packet, Rational } from 'node-av/lib';
import { FilterAPI } from 'node-av/api';
import {
  AV_CODEC_ID_BMP, AV_CODEC_ID_MJPEG, AV_CODEC_ID_PNG, AV_LOG_QUIET, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBVPX_VP8, FF_ENCODER_LIBX264, type AVCodecID,
} from 'node-av/constants';

Log.setLevel(AV_LOG_QUIET);

export type SlateRequest =
  /** An Annex B H.264 loop, baseline, one GOP, each frame led by an AUD. */
  | { what: 'h264'; width: number; height: number; fps: number; frames: number; imagePath?: string }
  /** A black VP8 loop, 320×240, one keyframe then inter frames, 2 s at `fps`. */
  | { what: 'vp8'; fps: number };

/** A black yuv420p picture (BT.601 limited range: Y 16, U and V 128). */
function blackFrame(width: number, height: number): Frame {
  const luma = width * height;
  const chroma = (width / 2) * (height / 2);
  const buf = Buffer.alloc(luma + 2 * chroma, 128);
  buf.fill(16, 0, luma);
  return Frame.fromVideoBuffer(buf, { width, height, format: AV_PIX_FMT_YUV420P });
}

/** The image decoder for a file's magic bytes. */
function imageDecoder(data: Buffer): AVCodecID {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return AV_CODEC_ID_PNG;
  if (data[0] === 0xff && data[1] === 0xd8) return AV_CODEC_ID_MJPEG;
  if (data.toString('latin1', 0, 2) === 'BM') return AV_CODEC_ID_BMP;
  throw new Error('slate image: not a PNG, JPEG or BMP file');
}

/** A still image scaled to fit `width`×`height` (aspect kept, black bars), yuv420p. */
function imageFrame(path: string, width: number, height: number): Frame {
  const data = readFileSync(path);
  const codec = Codec.findDecoder(imageDecoder(data));
  if (!codec) throw new Error('libavcodec has no decoder for the slate image');
  const dec = new CodecContext();
  dec.allocContext3(codec);
  const pkt = new Packet();
  const decoded = new Frame();
  try {
    FFmpegError.throwIfError(dec.open2Sync(codec, null), 'slate image decoder open');
    pkt.alloc();
    pkt.data = data;
    decoded.alloc();
    FFmpegError.throwIfError(dec.sendPacketSync(pkt), 'slate image decode');
    dec.sendPacketSync(null);
    FFmpegError.throwIfError(dec.receiveFrameSync(decoded), 'slate image decode');
    decoded.timeBase = new Rational(1, 1);
    decoded.pts = 0n;
    const filter = FilterAPI.create(
      `scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
    );
    try {
      const [out] = filter.processAllSync(decoded);
      if (out === undefined) throw new Error('slate image: the scaler gave no picture');
      out.pictType = AV_PICTURE_TYPE_NONE; // the decoder's "intra" would make every frame a keyframe
      return out;
    } finally {
      filter.close();
    }
  } finally {
    decoded.free();
    pkt.free();
    dec.freeContext();
  }
}

/** Encodes `count` copies of `picture` (pts 0…count−1 in 1/fps) and returns the packets. */
function encodeLoop(enc: CodecContext, codec: Codec, picture: Frame, count: number): Buffer[] {
  const pkt = new Packet();
  pkt.alloc();
  const out: Buffer[] = [];
  const drain = (): void => {
    while (enc.receivePacketSync(pkt) >= 0) {
      if (pkt.data !== null) out.push(pkt.data);
      pkt.unref();
    }
  };
  try {
    FFmpegError.throwIfError(enc.open2Sync(codec, null), `${codec.name ?? 'video'} encoder open`);
    for (let i = 0; i < count; i++) {
      picture.pts = BigInt(i);
      FFmpegError.throwIfError(enc.sendFrameSync(picture), 'slate encode');
      drain();
    }
    FFmpegError.throwIfError(enc.sendFrameSync(null), 'slate flush');
    drain();
    return out;
  } finally {
    pkt.free();
    enc.freeContext();
  }
}

function videoEncoder(name: typeof FF_ENCODER_LIBX264 | typeof FF_ENCODER_LIBVPX_VP8, width: number, height: number, fps: number, gop: number): {
  enc: CodecContext; codec: Codec;
} {
  const codec = Codec.findEncoderByName(name);
  if (!codec) throw new Error(`libavcodec has no ${name} encoder`);
  const enc = new CodecContext();
  enc.allocContext3(codec);
  enc.width = width;
  enc.height = height;
  enc.pixelFormat = AV_PIX_FMT_YUV420P;
  enc.timeBase = new Rational(1, fps);
  enc.framerate = new Rational(fps, 1);
  enc.gopSize = gop;
  enc.maxBFrames = 0;
  enc.threadCount = 1;
  return { enc, codec };
}

/** Makes one slate (see {@link SlateRequest}); throws on a codec or image libavcodec cannot handle. */
export function makeSlate(req: SlateRequest): Buffer[] {
  if (req.what === 'vp8') {
    const { enc, codec } = videoEncoder(FF_ENCODER_LIBVPX_VP8, 320, 240, req.fps, req.fps * 2);
    enc.bitRate = 100_000n;
    FFmpegError.throwIfError(enc.setOption('deadline', 'realtime'), 'libvpx deadline');
    const picture = blackFrame(320, 240);
    try {
      return encodeLoop(enc, codec, picture, req.fps * 2);
    } finally {
      picture.free();
    }
  }
  const { enc, codec } = videoEncoder(FF_ENCODER_LIBX264, req.width, req.height, req.fps, req.frames);
  for (const [k, v] of [['preset', 'veryfast'], ['profile', 'baseline'], ['level', '3.0'], ['x264-params', 'aud=1:repeat-headers=1:scenecut=0']]) {
    FFmpegError.throwIfError(enc.setOption(k as string, v as string), `libx264 ${k}`);
  }
  let picture: Frame;
  try {
    picture = req.imagePath !== undefined ? imageFrame(req.imagePath, req.width, req.height) : blackFrame(req.width, req.height);
  } catch (e) {
    enc.freeContext();
    throw e;
  }
  try {
    return [Buffer.concat(encodeLoop(enc, codec, picture, req.frames))];
  } finally {
    picture.free();
  }
}
