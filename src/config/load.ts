import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/index.js';
import { configSchema, type GatewayConfig } from './schema.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * Environment overrides: `GATEWAY__rest__httpPort=8082` sets `rest.httpPort`.
 * Values parse as JSON when they can (numbers, booleans, null, arrays), else
 * stay strings.
 */
export function envOverrides(env: NodeJS.ProcessEnv): JsonObject {
  const out: JsonObject = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('GATEWAY__') || raw === undefined) continue;
    const path = name.slice('GATEWAY__'.length).split('__').filter(Boolean);
    if (path.length === 0) continue;
    let value: Json;
    try {
      value = JSON.parse(raw) as Json;
    } catch {
      value = raw;
    }
    let node = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = isObject(next) ? next : (node[key] = {});
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

/** Validates a merged raw object; throws one ConfigError listing every problem. */
export function parseConfig(raw: unknown): Readonly<GatewayConfig> {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return deepFreeze(result.data);
}

/** Reads the JSON file (if any), merges it over defaults, then the environment, and validates. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Readonly<GatewayConfig> {
  let fromFile: JsonObject = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError([`cannot read ${file}: ${(e as Error).message}`]);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError([`${file} is not valid JSON: ${(e as Error).message}`]);
    }
    if (!isObject(parsed)) throw new ConfigError([`${file} must hold a JSON object`]);
    fromFile = parsed;
  }
  return parseConfig(deepMerge(fromFile, envOverrides(env)));
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
