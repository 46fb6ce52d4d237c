/**
 * What a server may make a publisher hold (it only sends commands, acks and
 * control messages): a server past these caps fails its target only.
 */
export const SERVER_LIMITS = { maxMessageSize: 1024 * 1024, maxChunkStreams: 16, maxChunkSize: 1024 * 1024 } as const;
