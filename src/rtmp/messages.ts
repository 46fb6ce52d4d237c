/**
 * Payloads of RTMP protocol control messages (RTMP spec §5.4), user control
 * messages (§6.2, §7.1.7) and commands (§7.2). Pure builders and parsers.
 */
import { ParseError } from '../shared/index.js';
import { decodeAmf0, type Amf0Object, type Amf0Value } from '../pipeline/index.js';

/** User control event types (§7.1.7). */
export const USER_CONTROL = {
  streamBegin: 0,
  streamEof: 1,
  streamDry: 2,
  setBufferLength: 3,
  streamIsRecorded: 4,
  pingRequest: 6,
  pingResponse: 7,
} as const;

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Set Chunk Size (type 1). */
export const setChunkSizePayload = (size: number): Buffer => u32(size & 0x7fffffff);
/** Acknowledgement (type 3): the total bytes received so far (wraps at 2^32). */
export const acknowledgementPayload = (sequence: number): Buffer => u32(sequence);
/** Window Acknowledgement Size (type 5). */
export const windowAckSizePayload = (size: number): Buffer => u32(size);

/** Set Peer Bandwidth (type 6): window size and limit type (0 hard, 1 soft, 2 dynamic). */
export function setPeerBandwidthPayload(size: number, limitType: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size >>> 0, 0);
  b[4] = limitType;
  return b;
}

/** User control message (type 4): 2-byte event type then a 4-byte value. */
export function userControlPayload(event: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  return b;
}

export function parseUserControl(payload: Buffer): { event: number; value: number } {
  if (payload.length < 6) throw new ParseError('RTMP: short user control message');
  return { event: payload.readUInt16BE(0), value: payload.readUInt32BE(2) };
}

export function parseU32(payload: Buffer, what: string): number {
  if (payload.length < 4) throw new ParseError(`RTMP: short ${what}`);
  return payload.readUInt32BE(0);
}

/** A decoded command message (§7.1.1): name, transaction id, command object, arguments. */
export interface RtmpCommand {
  readonly name: string;
  readonly transactionId: number;
  readonly object: Amf0Value;
  readonly args: readonly Amf0Value[];
}

/**
 * Decodes a command body. AMF3 commands (type 17) start with one format byte
 * and then carry AMF0 values in practice; the caller strips that byte.
 */
export function parseCommand(payload: Buffer): RtmpCommand {
  const values = decodeAmf0(payload);
  const [name, tid, object, ...args] = values;
  if (typeof name !== 'string') throw new ParseError('RTMP: command without a name');
  return { name, transactionId: typeof tid === 'number' ? tid : 0, object: object ?? null, args };
}

/** The `info` object of an onStatus / _result / _error (code, level, description), when present. */
export function statusInfo(cmd: RtmpCommand): { code: string; level: string; description: string } | undefined {
  for (const v of [cmd.args[0], cmd.object]) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map)) {
      const o = v as Amf0Object;
      if (typeof o.code === 'string') {
        return {
          code: o.code,
          level: typeof o.level === 'string' ? o.level : '',
          description: typeof o.description === 'string' ? o.description : '',
        };
      }
    }
  }
  return undefined;
}
