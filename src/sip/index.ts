/** Public surface of the SIP core (RFC 3261 UAC over UDP). */
export {
  SipUserAgent, SipClientCall, type SipUserAgentOptions, type InviteOptions, type SipCallState, type SipClientCallEvents,
} from './user-agent.js';
export { CALL_TRANSITIONS } from './call-types.js';
export { SipServerCall, type IncomingOptions } from './server-call.js';
export { DigestServer, type DigestCheck } from './digest-server.js';
export {
  parseMessage, serializeMessage, getHeader, getHeaders, setHeader, removeHeader, getVias, getTopVia, getCSeq,
  getCallId, getFrom, getTo, tagOf, bodyText, contentType, createResponse, headerKey,
  type SipMessage, type SipRequest, type SipResponse, type SipHeader,
} from './message.js';
export { parseVia, formatVia, parseCSeq, type Via, type CSeq, type Params } from './headers.js';
export {
  parseUri, formatUri, parseNameAddr, formatNameAddr, isValidUser, isValidHost, uriParam, bareUri,
  type SipUri, type NameAddr, type UriScheme,
} from './uri.js';
export {
  parseChallenge, selectChallenge, computeDigest, parseAuthParams,
  type DigestChallenge, type DigestAlgorithm, type DigestInput, type DigestResult,
} from './digest.js';
export { UdpTransport, type SipTransport, type TransportAddress, type TransportProtocol } from './transport.js';
export { DEFAULT_TIMERS, type TransactionTimers } from './transaction.js';
export { Dialog, type DialogState } from './dialog.js';
export {
  buildOffer, parseAnswer, receivePayloadTypes, type AudioCodecName, type VideoCodecName, type OfferOptions, type Direction,
  type NegotiatedCodec, type NegotiatedMedia, type NegotiatedSession,
} from './sdp.js';
export { newCallId } from './ids.js';
export { SipRegistration, type RegisterOptions, type RegisterResult, type RegistrationEvents } from './registration.js';
export { StreamTransport, type StreamTransportOptions, type TlsClientOptions } from './stream-transport.js';
export { StreamFramer, type Frame, type FramerLimits } from './stream-framer.js';
export { parseSipfrag, referProgressOf, type ReferProgress } from './refer.js';
export type { FinalResponse } from './request.js';
export { buildAnswer, isHoldOffer, answerDirection, type AnswerOptions } from './sdp-answer.js';

export { PICTURE_FAST_UPDATE } from './media-control.js';
