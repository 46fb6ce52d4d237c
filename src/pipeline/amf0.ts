/**
 * AMF0 (Action Message Format 0) encoder and decoder: the value encoding of
 * RTMP command and data messages (RTMP spec §7.1.1, AMF0 spec §2).
 *
 * JavaScript mapping, chosen so that encode(decode(bytes)) is byte-exact for
 * every canonical encoding:
 * - number ⇄ Number (0x00), boolean ⇄ Boolean (0x01)
 * - string ⇄ String (0x02) when its UTF-8 form is < 65536 bytes, else Long String (0x0C)
 * - plain object ⇄ Object (0x03), `Map<string, value>` ⇄ ECMA Array (0x08),
 *   array ⇄ Strict Array (0x0A)
 * - null ⇄ Null (0x05), undefined ⇄ Undefined (0x06)
 * Object End (0x09) only terminates objects and ECMA arrays.
 */
import { ParseError } from '../shared/index.js';

export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Amf0Object
  | Amf0EcmaArray
  | readonly Amf0Value[];

export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** An ECMA array: an associative array that keeps its insertion order (AMF0 §2.10). */
export type Amf0EcmaArray = Map<string, Amf0Value>;

export const AMF0_MARKER = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  null: 0x05,
  undefined: 0x06,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  longString: 0x0c,
} as const;

const MAX_DEPTH = 64;

/** Encodes the values one after the other (an RTMP command is a sequence of AMF0 values). */
export function encodeAmf0(...values: readonly Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) writeValue(parts, v, 0);
  return Buffer.concat(parts);
}

function writeValue(parts: Buffer[], v: Amf0Value, depth: number): void {
  if (depth > MAX_DEPTH) throw new ParseError('AMF0: value nested too deeply');
  if (v === null) {
    parts.push(Buffer.of(AMF0_MARKER.null));
  } else if (v === undefined) {
    parts.push(Buffer.of(AMF0_MARKER.undefined));
  } else if (typeof v === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = AMF0_MARKER.number;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') {
    parts.push(Buffer.of(AMF0_MARKER.boolean, v ? 1 : 0));
  } else if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    if (s.length <= 0xffff) {
      const h = Buffer.allocUnsafe(3);
      h[0] = AMF0_MARKER.string;
      h.writeUInt16BE(s.length, 1);
      parts.push(h, s);
    } else {
      const h = Buffer.allocUnsafe(5);
      h[0] = AMF0_MARKER.longString;
      h.writeUInt32BE(s.length, 1);
      parts.push(h, s);
    }
  } else if (v instanceof Map) {
    const h = Buffer.allocUnsafe(5);
    h[0] = AMF0_MARKER.ecmaArray;
    h.writeUInt32BE(v.size, 1);
    parts.push(h);
    for (const [k, item] of v) writeProperty(parts, k, item, depth);
    parts.push(OBJECT_END);
  } else if (Array.isArray(v)) {
    const arr = v as readonly Amf0Value[];
    const h = Buffer.allocUnsafe(5);
    h[0] = AMF0_MARKER.strictArray;
    h.writeUInt32BE(arr.length, 1);
    parts.push(h);
    for (const item of arr) writeValue(parts, item, depth + 1);
  } else {
    parts.push(Buffer.of(AMF0_MARKER.object));
    for (const k of Object.keys(v)) writeProperty(parts, k, (v as Amf0Object)[k], depth);
    parts.push(OBJECT_END);
  }
}

const OBJECT_END = Buffer.of(0x00, 0x00, AMF0_MARKER.objectEnd);

function writeProperty(parts: Buffer[], key: string, v: Amf0Value, depth: number): void {
  const k = Buffer.from(key, 'utf8');
  if (k.length > 0xffff) throw new ParseError('AMF0: property name too long');
  const h = Buffer.allocUnsafe(2);
  h.writeUInt16BE(k.length, 0);
  parts.push(h, k);
  writeValue(parts, v, depth + 1);
}

/** Result of decoding one value: the value and the offset just after it. */
export interface Amf0Decoded {
  value: Amf0Value;
  offset: number;
}

/** Decodes one AMF0 value at `offset`. Throws `ParseError` on truncated or unsupported input. */
export function decodeAmf0Value(buf: Buffer, offset = 0): Amf0Decoded {
  return readValue(buf, offset, 0);
}

/** Decodes every value in `buf` (a whole command or data message body). */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const out: Amf0Value[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = readValue(buf, off, 0);
    out.push(r.value);
    off = r.offset;
  }
  return out;
}

function need(buf: Buffer, offset: number, n: number): void {
  if (offset + n > buf.length) throw new ParseError(`AMF0: truncated at ${offset} (need ${n} bytes)`);
}

function readValue(buf: Buffer, offset: number, depth: number): Amf0Decoded {
  if (depth > MAX_DEPTH) throw new ParseError('AMF0: value nested too deeply');
  need(buf, offset, 1);
  const marker = buf[offset] as number;
  let off = offset + 1;
  switch (marker) {
    case AMF0_MARKER.number:
      need(buf, off, 8);
      return { value: buf.readDoubleBE(off), offset: off + 8 };
    case AMF0_MARKER.boolean:
      need(buf, off, 1);
      return { value: buf[off] !== 0, offset: off + 1 };
    case AMF0_MARKER.string: {
      need(buf, off, 2);
      const len = buf.readUInt16BE(off);
      off += 2;
      need(buf, off, len);
      return { value: buf.toString('utf8', off, off + len), offset: off + len };
    }
    case AMF0_MARKER.longString: {
      need(buf, off, 4);
      const len = buf.readUInt32BE(off);
      off += 4;
      need(buf, off, len);
      return { value: buf.toString('utf8', off, off + len), offset: off + len };
    }
    case AMF0_MARKER.null:
      return { value: null, offset: off };
    case AMF0_MARKER.undefined:
      return { value: undefined, offset: off };
    case AMF0_MARKER.object: {
      const obj: Amf0Object = {};
      // defineProperty, not assignment: a "__proto__" key must stay a plain property.
      off = readProperties(buf, off, depth, (k, v) => {
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      });
      return { value: obj, offset: off };
    }
    case AMF0_MARKER.ecmaArray: {
      // The count is only a hint (AMF0 §2.10): the list ends at Object End.
      need(buf, off, 4);
      off += 4;
      const map: Amf0EcmaArray = new Map();
      off = readProperties(buf, off, depth, (k, v) => {
        map.set(k, v);
      });
      return { value: map, offset: off };
    }
    case AMF0_MARKER.strictArray: {
      need(buf, off, 4);
      const count = buf.readUInt32BE(off);
      off += 4;
      // Each element takes at least one byte: reject counts the input cannot hold.
      if (count > buf.length - off) throw new ParseError(`AMF0: strict array count ${count} exceeds input`);
      const arr: Amf0Value[] = [];
      for (let i = 0; i < count; i++) {
        const r = readValue(buf, off, depth + 1);
        arr.push(r.value);
        off = r.offset;
      }
      return { value: arr, offset: off };
    }
    default:
      throw new ParseError(`AMF0: unsupported marker 0x${marker.toString(16)} at ${offset}`);
  }
}

function readProperties(
  buf: Buffer,
  offset: number,
  depth: number,
  set: (key: string, v: Amf0Value) => void,
): number {
  let off = offset;
  for (;;) {
    need(buf, off, 2);
    const klen = buf.readUInt16BE(off);
    off += 2;
    if (klen === 0) {
      need(buf, off, 1);
      if (buf[off] === AMF0_MARKER.objectEnd) return off + 1;
    }
    need(buf, off, klen);
    const key = buf.toString('utf8', off, off + klen);
    off += klen;
    const r = readValue(buf, off, depth + 1);
    set(key, r.value);
    off = r.offset;
  }
}
