/**
 * The small part of node-media-server 4.4.x (CommonJS, untyped) that
 * embedded.ts uses. Internal fields are typed only as far as we touch them.
 */
declare module 'node-media-server' {
  import type { Server as HttpServer } from 'node:http';
  import type { Server as NetServer } from 'node:net';
  import type { EventEmitter } from 'node:events';

  namespace NodeMediaServer {
  interface NmsConfig {
    bind?: string;
    rtmp?: { port?: number };
    rtmps?: { port?: number; key?: string; cert?: string };
    http?: { port?: number };
    https?: { port?: number; key?: string; cert?: string };
    record?: { auto?: boolean; path?: string };
    store?: { path?: string; maxHistory?: number; flushInterval?: number };
    static?: { router?: string; root?: string };
    webadmin?: { enable?: boolean };
    auth?: { play?: boolean; publish?: boolean; secret?: string };
    notify?: { url?: string };
  }
  interface NmsSession {
    id: number | string;
    streamPath?: string;
    close?: () => void;
    /** RTMP sessions: the connection, and the protocol state with its FLV tag parser. */
    socket?: import('node:net').Socket;
    rtmp?: { flv?: { parserTagData: Buffer; parserTagCapacity: number } };
  }
  }

  class NodeMediaServer {
    constructor(config: NodeMediaServer.NmsConfig, configPath?: string);
    httpServer: {
      httpServer?: HttpServer;
      wsServer?: EventEmitter & { clients: Set<{ terminate(): void }> };
      stop(): void;
    };
    rtmpServer: { tcpServer?: NetServer; _sockets: Set<import('node:net').Socket>; stop(): void };
    /** The JSON store; its `_onSignal` is installed on SIGINT/SIGTERM when it opens. */
    store: { opened: boolean; _onSignal?: (signal: NodeJS.Signals) => void };
    on(event: string, listener: (session: NodeMediaServer.NmsSession) => void): void;
    run(): Promise<void>;
    stop(): Promise<void>;
  }
  export = NodeMediaServer;
}

declare module 'node-media-server/src/core/logger.js' {
  interface NmsLogger {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
    log(message: string, level?: string): void;
  }
  const logger: NmsLogger;
  export = logger;
}

declare module 'node-media-server/src/core/context.js' {
  const context: {
    sessions: Map<unknown, unknown>;
    broadcasts: Map<string, unknown>;
    /** Where its sessions emit prePublish/postPublish/donePublish/...; what `NodeMediaServer.on` listens on. */
    eventEmitter: import('node:events').EventEmitter;
  };
  export = context;
}

declare module 'node-media-server/src/protocol/rtmp.js' {
  /** Its RTMP protocol state per connection; patched by embedded-guard.ts. */
  class Rtmp {
    parserData(data: Buffer): string | null;
    packetAlloc(): void;
    parserPacket: { header: { length: number }; capacity: number };
    inPackets: Map<number, unknown>;
  }
  export = Rtmp;
}
