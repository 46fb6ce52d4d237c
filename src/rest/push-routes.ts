/**
 * `/push/*` (SPEC §2.8): restream a running call to extra RTMP targets.
 * Mounted under /rest-api by createRestApp, after its auth and JSON parsing.
 */
import express from 'express';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../shared/index.js';
import type { PushService } from '../call/index.js';
import { parse } from './startup-params.js';

const rtmpUrl = z.string({ error: 'rtmpUrl is required' }).refine((u) => {
  try {
    const url = new URL(u);
    return (url.protocol === 'rtmp:' || url.protocol === 'rtmps:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an rtmp:// or rtmps:// URL with a host');

const startupSchema = z.object({
  streamName: z.string({ error: 'streamName is required' }).min(1, 'streamName is required'),
  rtmpUrl,
});
const findSchema = z.object({
  mediaSessionId: z.string().optional(),
  streamName: z.string().optional(),
  rtmpUrl: z.string().optional(),
});
const terminateSchema = z.object({ mediaSessionId: z.string({ error: 'mediaSessionId is required' }).min(1) });

/** The /push routes, to mount at /rest-api. */
export function pushRouter(pushes: PushService): express.Router {
  const r = express.Router();
  r.post('/push/startup', (req, res) => {
    const { streamName, rtmpUrl: url } = parse(startupSchema, req.body);
    const p = pushes.startup(streamName, url);
    res.json({ mediaSessionId: p.mediaSessionId, streamName: p.streamName, rtmpUrl: p.rtmpUrl, status: p.status });
  });
  r.post('/push/find', (req, res) => {
    const filter = parse(findSchema, req.body);
    if (filter.mediaSessionId === undefined && filter.streamName === undefined && filter.rtmpUrl === undefined) {
      throw new ValidationError('give mediaSessionId, streamName or rtmpUrl');
    }
    const found = pushes.find(filter);
    if (found.length === 0) throw new NotFoundError('no push matches');
    res.json(found);
  });
  r.post('/push/find_all', (_req, res) => {
    const all = pushes.findAll();
    if (all.length === 0) throw new NotFoundError('there are no pushes');
    res.json(all);
  });
  r.post('/push/terminate', async (req, res) => {
    const { mediaSessionId } = parse(terminateSchema, req.body);
    await pushes.terminate(mediaSessionId);
    res.json({ mediaSessionId, result: 'terminated' });
  });
  return r;
}
