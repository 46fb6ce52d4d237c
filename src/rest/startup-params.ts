/**
 * What turns a request body into validated parameters, shared by the routes:
 * zod parsing with the first problem named in a 400, and the `/call/startup`
 * body's checks beyond its schema (SIP user syntax, the webhook application,
 * stripCodecs by name), which `/capture/schedule` applies the same way.
 */
import type { z } from 'zod';
import { ValidationError, codecByName } from '../shared/index.js';
import type { StartupParams } from '../call/index.js';
import { RESERVED_SYMBOLS_MESSAGE, SIP_USER, type startupSchema } from './schemas.js';

/** The webhook applications: a startup without appKey gets `defaultApp`; with `strict`, one naming an unknown application is refused. */
export interface AppKeys {
  known: readonly string[];
  defaultApp: string;
  strict: boolean;
}

/** `schema` applied to `body`; a 400 naming the first bad field otherwise. */
export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const field = first?.path.join('.');
  const message = first?.message ?? 'invalid request';
  throw new ValidationError(field && !message.includes(field) ? `${field}: ${message}` : message);
}

/** The application of a request's `appKey`: the default one when absent; unknown ones too unless strict (then a 400). */
export function resolveAppKey(appKey: string | undefined, appKeys: AppKeys | undefined): string {
  const key = appKey ?? appKeys?.defaultApp ?? 'callApp';
  if (appKeys?.strict && !appKeys.known.includes(key)) {
    throw new ValidationError(`appKey: no application "${key}" is configured (webhook.apps)`);
  }
  return key;
}

/** A parsed `/call/startup` body as the call layer takes it (SPEC §2.1 rules past the schema). */
export function startupParams(p: z.infer<typeof startupSchema>, appKeys: AppKeys | undefined): StartupParams {
  for (const name of [p.sipLogin, p.sipAuthenticationName]) {
    if (name !== undefined && !SIP_USER.test(name)) throw new ValidationError(RESERVED_SYMBOLS_MESSAGE);
  }
  const appKey = resolveAppKey(p.appKey, appKeys);
  const stripCodecs = p.stripCodecs?.map((name) => {
    const c = codecByName(name);
    if (c === undefined) throw new ValidationError(`stripCodecs: unknown codec "${name}"`);
    return c;
  });
  const { sipVisibleName, visibleName, stripCodecs: _names, ...rest } = p;
  return { ...rest, appKey, visibleName: visibleName ?? sipVisibleName, ...(stripCodecs ? { stripCodecs } : {}) };
}
