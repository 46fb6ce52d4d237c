import type { StartupParams } from '../call/index.js';

/** SPEC §2.9: SCHEDULED → DIALLING → LIVE ↔ RETRYING → ENDED, CANCELLED or FAILED. */
export type CaptureStatus = 'SCHEDULED' | 'DIALLING' | 'LIVE' | 'RETRYING' | 'ENDED' | 'CANCELLED' | 'FAILED';

export const TERMINAL_CAPTURE_STATUSES: ReadonlySet<CaptureStatus> = new Set(['ENDED', 'CANCELLED', 'FAILED']);

/** How a capture dials again after an attempt failed: every `intervalMs`, at most `maxAttempts` dials (0: until endAt). */
export interface RetryPolicy {
  intervalMs: number;
  maxAttempts: number;
}

/** What `/capture/schedule` keeps: the call to place (a `/call/startup` body, validated) and when. */
export interface ScheduleParams {
  captureId: string;
  /** ms since the epoch. */
  startAt: number;
  endAt: number;
  retry: RetryPolicy;
  /** Each attempt's startup body (`callId` is per attempt; `toStream` defaults to the captureId). */
  call: StartupParams & { toStream: string };
}

/** A capture as stored: its parameters and where it stands. */
export interface CaptureRecord extends ScheduleParams {
  status: CaptureStatus;
  /** Dials made so far. */
  attempt: number;
  /** The current (or last) attempt's callId. */
  callId: string | null;
  /** Why it is RETRYING, FAILED or ENDED (the last attempt's outcome). */
  info: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The capture object of SPEC §2.9, as answered and posted in CaptureStatusEvents (no sipPassword). */
export interface CaptureObject extends Omit<StartupParams, 'sipPassword' | 'callId'> {
  captureId: string;
  kind: 'scheduled';
  status: CaptureStatus;
  startAt: string;
  endAt: string;
  attempt: number;
  callId: string | null;
  retry: RetryPolicy;
  info: string | null;
  nodeId: string;
  createdAt: number;
}

/** An incoming capture declared ahead (SPEC §2.9 `/capture/incoming/create`), as stored. */
export interface IncomingDeclaration {
  userPart: string;
  rtmpUrl?: string;
  rtmpStream?: string;
  /** Default: the userPart. */
  toStream: string;
  /** The digest credential the caller must present, when set. */
  sipLogin?: string;
  sipPassword?: string;
  /** IPs and CIDRs the INVITE may come from; any when absent. */
  allowedSources?: string[];
  /** ms since the epoch; the declaration answers no INVITE after it. */
  expiresAt?: number;
  hasAudio: boolean;
  hasVideo: boolean;
  appKey: string;
  custom: Record<string, unknown>;
  createdAt: number;
}

/**
 * Where schedules and incoming declarations survive a restart (SPEC §7
 * `capture.store`): SQLite (synchronous) or Redis (asynchronous; writes of one
 * node keep their order).
 */
export interface CaptureStore {
  load(): CaptureRecord[] | Promise<CaptureRecord[]>;
  save(r: CaptureRecord): void | Promise<unknown>;
  remove(captureId: string): void | Promise<unknown>;
  loadIncoming(): IncomingDeclaration[] | Promise<IncomingDeclaration[]>;
  saveIncoming(d: IncomingDeclaration): void | Promise<unknown>;
  removeIncoming(userPart: string): void | Promise<unknown>;
  close(): void;
}

/**
 * In a cluster, which node runs a due capture: a lease per capture with a TTL,
 * renewed by its holder; a capture whose holder died is free again.
 */
export interface CaptureLease {
  readonly nodeId: string;
  /** True when this node now holds the capture (it was free, or already ours). */
  acquire(captureId: string): Promise<boolean>;
  /** Extends our hold; false when it is not ours any more. */
  renew(captureId: string): Promise<boolean>;
  release(captureId: string): Promise<void>;
}
