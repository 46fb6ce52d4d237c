/**
 * `/capture/*` (SPEC §2.9): scheduled captures, in the style of `/call/*`
 * (POST, JSON, the same auth and error bodies). A schedule is a
 * `/call/startup` body plus when: `startAt` / `endAt` (ISO 8601 with an
 * offset), the passcode (`joinDtmf` as digits or as the startup's object,
 * `joinDtmfDelayMs`) and the `retry` policy. Mounted under /rest-api.
 */
import express from 'express';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../shared/index.js';
import { newCaptureId, type CaptureService, type IncomingCaptures, type ScheduleParams } from '../capture/index.js';
import { SIP_USER, bool, dtmfDigits, int, rtmpUrl, startupSchema, streamName } from './schemas.js';
import { parse, resolveAppKey, startupParams, type AppKeys } from './startup-params.js';

const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)$/;
const isoTime = z.string().regex(ISO_WITH_OFFSET, 'an ISO 8601 time with an offset, e.g. 2026-12-08T10:00:00+01:00')
  .transform((s, ctx) => {
    const t = Date.parse(s);
    if (Number.isNaN(t)) ctx.addIssue({ code: 'custom', message: 'not a valid time' });
    return t;
  });
const captureId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 _ . -');

const scheduleSchema = startupSchema.omit({ callId: true }).extend({
  captureId: captureId.optional(),
  startAt: isoTime,
  endAt: isoTime,
  joinDtmf: z.union([dtmfDigits, startupSchema.shape.joinDtmf.unwrap()]).optional(),
  joinDtmfDelayMs: int(0, 600_000).optional(),
  retry: z.object({ intervalMs: int(1000, 3_600_000).default(15_000), maxAttempts: int(0, 1000).default(0) }).prefault({}),
});
const byIdSchema = z.object({ captureId: z.string({ error: 'captureId is required' }).min(1) });
const userPart = z.string({ error: 'userPart is required' }).regex(/^[A-Za-z0-9._-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 . _ -');
const incomingSchema = z.object({
  userPart,
  rtmpUrl: rtmpUrl.optional(),
  rtmpStream: streamName.optional(),
  toStream: streamName.optional(),
  sipLogin: z.string().max(128).regex(SIP_USER, 'a SIP user name').optional(),
  sipPassword: z.string().min(1).max(256).optional(),
  allowedSources: z.array(z.string().max(64)).max(64).optional(),
  expiresAt: isoTime.optional(),
  hasAudio: bool.default(true),
  hasVideo: bool.default(true),
  appKey: z.string().min(1).max(64).optional(),
  custom: z.record(z.string(), z.unknown()).default({}),
});
const byUserPart = z.object({ userPart });

/** A parsed schedule body as the scheduler takes it; the passcode becomes the startup's joinDtmf. */
function scheduleParams(p: z.infer<typeof scheduleSchema>, appKeys: AppKeys | undefined): ScheduleParams {
  const { captureId: id, startAt, endAt, retry, joinDtmf, joinDtmfDelayMs, ...body } = p;
  const join = typeof joinDtmf === 'string'
    ? { digits: joinDtmf, delayMs: joinDtmfDelayMs ?? 3000, type: 'RFC2833' as const }
    : joinDtmf && { ...joinDtmf, ...(joinDtmfDelayMs === undefined ? {} : { delayMs: joinDtmfDelayMs }) };
  const captureIdOrNew = id ?? newCaptureId();
  const call = startupParams({ ...body, ...(join ? { joinDtmf: join } : {}) }, appKeys);
  return { captureId: captureIdOrNew, startAt, endAt, retry, call: { ...call, toStream: call.toStream ?? captureIdOrNew } };
}

/** The /capture routes, to mount at /rest-api. */
export function captureRouter(captures: CaptureService, incoming: IncomingCaptures, appKeys?: AppKeys): express.Router {
  const r = express.Router();
  r.post('/capture/incoming/create', (req, res) => {
    const p = parse(incomingSchema, req.body);
    res.json(incoming.create({ ...p, toStream: p.toStream ?? p.userPart, appKey: resolveAppKey(p.appKey, appKeys), createdAt: Date.now() }));
  });
  r.post('/capture/incoming/find', (req, res) => {
    res.json([incoming.find(parse(byUserPart, req.body).userPart)]);
  });
  r.post('/capture/incoming/find_all', (_req, res) => {
    const all = incoming.findAll();
    if (all.length === 0) throw new NotFoundError('there are no incoming captures');
    res.json(all);
  });
  r.post('/capture/incoming/delete', (req, res) => {
    res.json(incoming.delete(parse(byUserPart, req.body).userPart));
  });
  r.post('/capture/schedule', (req, res) => {
    res.json(captures.schedule(scheduleParams(parse(scheduleSchema, req.body), appKeys)));
  });
  r.post('/capture/find', (req, res) => {
    res.json([captures.find(parse(byIdSchema, req.body).captureId)]);
  });
  r.post('/capture/find_all', (_req, res) => {
    const all = captures.findAll();
    if (all.length === 0) throw new NotFoundError('there are no captures');
    res.json(all);
  });
  r.post('/capture/cancel', (req, res) => {
    res.json(captures.cancel(parse(byIdSchema, req.body).captureId));
  });
  r.post('/capture/update', (req, res) => {
    const { captureId: id } = parse(byIdSchema, req.body);
    const body = req.body as Record<string, unknown>;
    const given = Object.keys(body).filter((k) => k !== 'captureId');
    if (given.length === 0) throw new ValidationError('give the fields to change');
    const onlyEndAt = given.length === 1 && given[0] === 'endAt';
    res.json(captures.update(id, (old) => {
      // The stored schedule with the given fields over it, validated as a whole like a new one.
      const { sipPassword, ...rest } = old.call;
      const merged = {
        ...rest, ...(sipPassword === undefined ? {} : { sipPassword }),
        startAt: new Date(old.startAt).toISOString(), endAt: new Date(old.endAt).toISOString(), retry: old.retry, ...body, captureId: id,
      };
      return scheduleParams(parse(scheduleSchema, merged), appKeys);
    }, onlyEndAt));
  });
  return r;
}
