import express, { type Request, type Response, type NextFunction } from 'express';
import { basicAuth } from './basic-auth.js';
import { GatewayError, NotFoundError, ValidationError, type Logger } from '../shared/index.js';
import type { CallFilter, CallObject, DtmfType, StartupParams } from '../call/index.js';
import { startupSchema, findSchema, terminateSchema, transferSchema, dtmfSchema } from './schemas.js';
import { parse, startupParams, type AppKeys } from './startup-params.js';
import { hostGuard, jsonOnly, sameOriginGuard } from './guards.js';

/**
 * What the REST API needs of the calls: this node's CallService, or the
 * cluster's view of every node (cluster/ClusterCalls). `placed`: the startup
 * was handed to this node by another one and runs here.
 */
export interface CallApi {
  startup(p: StartupParams & { recover?: boolean }, placed?: boolean): CallObject | Promise<CallObject>;
  find(filter: CallFilter): CallObject[] | Promise<CallObject[]>;
  findAll(): CallObject[] | Promise<CallObject[]>;
  terminate(callId: string): void | Promise<void>;
  setHold(callId: string, hold: boolean): Promise<CallObject>;
  transfer(callId: string, target: string): Promise<CallObject>;
  sendDtmf(callId: string, digits: string, type: DtmfType): void | Promise<void>;
}

export interface RestOptions {
  calls: CallApi;
  log: Logger;
  maxBodyBytes: number;
  /** When non-empty, every /rest-api request needs HTTP Basic auth with one of these. */
  users: readonly { name: string; password: string }[];
  /** Host names the API may be reached by besides IP literals and loopback names (DNS rebinding guard). */
  allowedHosts?: readonly string[];
  /** Called per answered request, for metrics. */
  onRequest?: (route: string, status: number) => void;
  /** More API routes (e.g. /push/*), mounted at /rest-api behind the same auth and JSON parsing. */
  apiRouters?: readonly express.Router[];
  /** Routes outside /rest-api (e.g. /hls), mounted at the root before the 404 handler. */
  rootRouters?: readonly express.Router[];
  /** The webhook applications (see AppKeys). */
  appKeys?: AppKeys;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

function errorBody(status: number, message: string, path: string): object {
  return { error: REASONS[status] ?? 'Error', message, path, status, timestamp: Date.now() };
}

/** Deepest nesting a request body may have: `custom` is echoed in every answer and webhook (JSON.stringify recurses). */
const MAX_BODY_DEPTH = 32;

/** True when `v` nests objects/arrays deeper than `max` (iterative: the check itself must not recurse). */
function nestedDeeperThan(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The REST API of SPEC §2 (WCS compatible), mounted at /rest-api. */
export function createRestApp(opts: RestOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    res.on('finish', () => opts.onRequest?.(req.route?.path ? `/rest-api${String(req.route.path)}` : 'other', res.statusCode));
    next();
  });
  // Every route of this port (API, dashboard, HLS, metrics): no DNS rebinding, no cross-site writes.
  app.use(hostGuard({ allowedHosts: opts.allowedHosts ?? [], credentials: opts.users.length > 0 }));
  app.use(sameOriginGuard());

  if (opts.users.length > 0) app.use('/rest-api', basicAuth(opts.users));

  // Every method takes JSON, declared as such: a cross-site form cannot send application/json.
  app.use('/rest-api', jsonOnly());
  app.use('/rest-api', (req, res, next) => {
    // A declared length over the limit is answered at once, and the connection closed: the body parser would
    // first read (and discard) the whole announced body, holding the connection for as long as it takes.
    if (Number(req.headers['content-length']) > opts.maxBodyBytes) {
      res.set('Connection', 'close');
      next(Object.assign(new Error('request entity too large'), { type: 'entity.too.large' }));
      return;
    }
    next();
  });
  app.use('/rest-api', express.json({ limit: opts.maxBodyBytes, type: () => true, strict: false }));
  app.use('/rest-api', (req, _res, next) => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    if (req.body === undefined) req.body = {};
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      next(new ValidationError('the body must be a JSON object'));
      return;
    }
    if (nestedDeeperThan(req.body, MAX_BODY_DEPTH)) {
      next(new ValidationError(`the body nests deeper than ${MAX_BODY_DEPTH} levels`));
      return;
    }
    next();
  });

  const r = express.Router();
  r.post('/call/startup', async (req, res) => {
    res.json(await opts.calls.startup(startupParams(parse(startupSchema, req.body), opts.appKeys), req.get('x-gateway-forwarded') !== undefined));
  });
  r.post('/call/find', async (req, res) => {
    const found = await opts.calls.find(parse(findSchema, req.body));
    if (found.length === 0) throw new NotFoundError('no call matches');
    res.json(found);
  });
  r.post('/call/find_all', async (_req, res) => {
    const all = await opts.calls.findAll();
    if (all.length === 0) throw new NotFoundError('there are no calls');
    res.json(all);
  });
  r.post('/call/terminate', async (req, res) => {
    const { callId } = parse(terminateSchema, req.body);
    await opts.calls.terminate(callId);
    res.json({ callId, result: 'terminating' });
  });
  for (const [route, hold] of [['/call/hold', true], ['/call/unhold', false]] as const) {
    r.post(route, async (req, res) => {
      const { callId } = parse(terminateSchema, req.body);
      res.json(await opts.calls.setHold(callId, hold));
    });
  }
  r.post('/call/transfer', async (req, res) => {
    const { callId, target } = parse(transferSchema, req.body);
    res.json(await opts.calls.transfer(callId, target));
  });
  r.post('/call/send_dtmf', async (req, res) => {
    const { callId, dtmf, type } = parse(dtmfSchema, req.body);
    await opts.calls.sendDtmf(callId, dtmf, type);
    res.json({ callId, dtmf, type, result: 'accepted' });
  });
  app.use('/rest-api', r);
  for (const extra of opts.apiRouters ?? []) app.use('/rest-api', extra);
  for (const extra of opts.rootRouters ?? []) app.use(extra);

  app.use((req, res) => {
    res.status(404).json(errorBody(404, `no route ${req.method} ${req.path}`, req.originalUrl));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    let status = 500;
    let message = 'internal error';
    if (err instanceof GatewayError) {
      status = err.httpStatus;
      message = err.message;
    } else if (e.type === 'entity.parse.failed') {
      status = 400;
      message = 'invalid JSON body';
    } else if (e.type === 'entity.too.large') {
      status = 413;
      message = `body larger than ${opts.maxBodyBytes} bytes`;
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      message = e.message ?? 'bad request';
    }
    if (status >= 500) opts.log.error({ err, path: req.originalUrl }, 'REST request failed');
    else opts.log.info({ path: req.originalUrl, status, message }, 'REST request refused');
    res.status(status).json(errorBody(status, message, req.originalUrl));
  });
  return app;
}
