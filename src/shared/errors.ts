/**
 * One catalogue of errors that classify themselves: a stable `code`, the HTTP
 * status the REST layer answers with and, where it applies, a SIP status.
 */
export class GatewayError extends Error {
  readonly code: string = 'GATEWAY_ERROR';
  readonly httpStatus: number = 500;
  readonly sipStatus: number | undefined = undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bytes or text that cannot be decoded (SIP, SDP, RTP, RTCP, AMF, FLV, RTMP chunks). */
export class ParseError extends GatewayError {
  override readonly code = 'PARSE_ERROR';
  override readonly httpStatus = 400;
  override readonly sipStatus = 400;
}

/** A state machine was asked for a transition its table does not allow. */
export class InvalidStateError extends GatewayError {
  override readonly code = 'INVALID_STATE';
  override readonly httpStatus = 409;
}

/** A request body field of the wrong type or format. */
export class ValidationError extends GatewayError {
  override readonly code = 'VALIDATION';
  override readonly httpStatus = 400;
}

export class NotFoundError extends GatewayError {
  override readonly code = 'NOT_FOUND';
  override readonly httpStatus = 404;
}

export class ConflictError extends GatewayError {
  override readonly code = 'CONFLICT';
  override readonly httpStatus = 409;
}

export class PayloadTooLargeError extends GatewayError {
  override readonly code = 'PAYLOAD_TOO_LARGE';
  override readonly httpStatus = 413;
}

export class UnavailableError extends GatewayError {
  override readonly code = 'UNAVAILABLE';
  override readonly httpStatus = 503;
}

/** A SIP transaction ended with a final non-2xx response, a timeout or a transport error. */
export class SipError extends GatewayError {
  override readonly code = 'SIP_ERROR';
  override readonly httpStatus = 502;
  override readonly sipStatus: number;
  readonly reason: string;

  constructor(sipStatus: number, reason: string, options?: { cause?: unknown }) {
    super(`SIP ${sipStatus} ${reason}`, options);
    this.sipStatus = sipStatus;
    this.reason = reason;
  }
}

/** Invalid configuration: every problem, listed once. */
export class ConfigError extends GatewayError {
  override readonly code = 'CONFIG';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** What another node of the cluster answered to a request forwarded to it: its status and message, passed on as they are. */
export class RemoteError extends GatewayError {
  override readonly code = 'REMOTE';
  override readonly httpStatus: number;

  constructor(httpStatus: number, message: string) {
    super(message);
    this.httpStatus = httpStatus;
  }
}
