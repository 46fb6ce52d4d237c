/**
 * The onMetaData a stream carries, read from FLV bytes: an HTTP-FLV URL (the
 * embedded node-media-server sends the publisher's metadata right after the
 * FLV header) or a recorded .flv file (nginx `record all`). ffprobe does not
 * print these keys (its FLV demuxer consumes them), so the tests read them
 * here and compare them with what ffprobe decodes.
 */
import { readFileSync } from 'node:fs';
import { FlvDemuxer, decodeAmf0, type FlvTag } from '../../src/pipeline/index.js';

function metadataOf(tag: FlvTag, plain: boolean): Record<string, unknown> | null {
  const values = decodeAmf0(tag.data);
  // A viewer's FLV should carry `onMetaData, {...}`; a relayed publish message starts with '@setDataFrame'.
  if (plain && values[0] !== 'onMetaData') return null;
  const i = values.findIndex((v) => v === 'onMetaData');
  const arr = i >= 0 ? values[i + 1] : undefined;
  if (arr instanceof Map) return Object.fromEntries(arr);
  if (arr !== null && typeof arr === 'object') return { ...(arr as Record<string, unknown>) };
  return null;
}

/**
 * The first onMetaData of `source` (http(s) URL of an FLV stream, or a file
 * path); null when none within the first tags, or (`plain`, the default) when
 * the script tag does not start with `onMetaData` as players expect.
 */
export async function probeMetadata(source: string, opts: { timeoutMs?: number; plain?: boolean } = {}): Promise<Record<string, unknown> | null> {
  const timeoutMs = opts.timeoutMs ?? 8000;
  const plain = opts.plain ?? true;
  const demux = new FlvDemuxer();
  if (!/^https?:\/\//.test(source)) {
    for (const t of demux.push(readFileSync(source))) if (t.type === 'script') return metadataOf(t, plain);
    return null;
  }
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(source, { signal: ac.signal });
    if (!res.ok || res.body === null) return null;
    let seen = 0;
    for await (const chunk of res.body) {
      for (const t of demux.push(Buffer.from(chunk as Uint8Array))) {
        if (t.type === 'script') return metadataOf(t, plain);
        if (++seen > 50) return null;
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
