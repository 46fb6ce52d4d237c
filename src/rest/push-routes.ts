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

/**
 * In a cluster, /push requests for calls of other nodes: carried out on the
 * node that owns the stream, or asked of every other node (find, terminate).
 */
export interface PushRemote {
  /** The request on the node owning `streamName` when that is another node; undefined when none has it. */
  forStream(streamName: string, route: string, body: unknown): Promise<unknown>;
  /** The request on every other live node: their answers (a 404 is no answer). */
  onOthers(route: string, body: unknown): Promise<unknown[]>;
}

/** The /push routes, to mount at /rest-api; with `remote`, pushes of every node of the cluster. */
export function pushRouter(pushes: PushService, remote?: PushRemote): express.Router {
  const r = express.Router();
  // A request another node forwarded is answered from this node alone.
  const others = (req: express.Request): PushRemote | undefined => (req.get('x-gateway-forwarded') === undefined ? remote : undefined);
  r.post('/push/startup', async (req, res) => {
    const { streamName, rtmpUrl: url } = parse(startupSchema, req.body);
    try {
      const p = pushes.startup(streamName, url);
      res.json({ mediaSessionId: p.mediaSessionId, streamName: p.streamName, rtmpUrl: p.rtmpUrl, status: p.status });
    } catch (e) {
      const there = e instanceof NotFoundError ? await others(req)?.forStream(streamName, '/push/startup', { streamName, rtmpUrl: url }) : undefined;
      if (there === undefined) throw e;
      res.json(there);
    }
  });
  r.post('/push/find', async (req, res) => {
    const filter = parse(findSchema, req.body);
    if (filter.mediaSessionId === undefined && filter.streamName === undefined && filter.rtmpUrl === undefined) {
      throw new ValidationError('give mediaSessionId, streamName or rtmpUrl');
    }
    const found = [...pushes.find(filter), ...((await others(req)?.onOthers('/push/find', filter)) ?? []).flat()];
    if (found.length === 0) throw new NotFoundError('no push matches');
    res.json(found);
  });
  r.post('/push/find_all', async (req, res) => {
    const all = [...pushes.findAll(), ...((await others(req)?.onOthers('/push/find_all', {})) ?? []).flat()];
    if (all.length === 0) throw new NotFoundError('there are no pushes');
    res.json(all);
  });
  r.post('/push/terminate', async (req, res) => {
    const { mediaSessionId } = parse(terminateSchema, req.body);
    try {
      await pushes.terminate(mediaSessionId);
    } catch (e) {
      const there = e instanceof NotFoundError ? await others(req)?.onOthers('/push/terminate', { mediaSessionId }) : undefined;
      if (!there || there.length === 0) throw e;
    }
    res.json({ mediaSessionId, result: 'terminated' });
  });
  return r;
}
