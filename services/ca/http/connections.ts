import cluster from "node:cluster";
import type { Server } from "node:https";
import type { Socket } from "node:net";
import type { Logger } from "pino";

/**
 * How long a connection may hold the server without doing its part. Node's own timeouts leave a
 * gap: headersTimeout and requestTimeout are checked only for connections whose first request
 * has begun, so a client that completes the TCP (and TLS) handshake and sends nothing was held
 * until requestTimeout plus a check interval (330 s measured). The first request is therefore
 * given its own deadline from the moment the connection is accepted.
 */
export interface ConnectionLimits {
  /** TLS handshake (tls.Server handshakeTimeout) */
  handshakeTimeoutMs: number;
  /** from accept to a complete first request head; later heads: node's headersTimeout */
  headersTimeoutMs: number;
  /** a whole request, body included (node's requestTimeout) */
  requestTimeoutMs: number;
  /** idle between two requests on one keep-alive connection */
  keepAliveTimeoutMs: number;
  /** how often node checks headersTimeout and requestTimeout */
  checkIntervalMs: number;
  /** open connections per process; one more is closed at once */
  maxConnections: number;
}

/**
 * The defaults. Heads: 25 s plus a check every 5 s closes a silent or slow client within 30 s.
 * A keep-alive connection idles 5 s at most (node's default, well inside 60 s): agents and ACME
 * clients send their requests back to back. At most 512 connections per process: a LAN CA's
 * clients hold a connection for milliseconds, so 512 at once is already a flood; each open TLS
 * connection costs about 50-100 KiB, so the cap bounds that memory to some tens of MiB, and it
 * stays well under the usual 1024 open-file soft limit, leaving descriptors for the database,
 * its WAL, the log and validation's outgoing connections. With --workers N the whole CA takes
 * N times as many.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 25_000,
  headersTimeoutMs: 25_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 5_000,
  maxConnections: 512,
};

/**
 * How the listener binds (server.listen's options). A cluster worker on a fixed port on Linux
 * binds the port itself with SO_REUSEPORT, and the kernel spreads new connections over the
 * workers' sockets. Otherwise, node's default: the primary holds the one socket, accepts every
 * connection and hands it to a worker over IPC, which cost about 0.6-0.8 ms of CPU per
 * connection here (a bare mutual-TLS server, 2 workers: 2.7-3.2 ms per handshake and request
 * against 2.0-2.8 ms), paid by every renewal, a new connection each (issue 16). Port 0 keeps the
 * primary's socket: each worker would bind a port of its own.
 */
export function listenOptions(
  port: number,
  host: string,
  worker = cluster.isWorker,
  platform: NodeJS.Platform = process.platform,
) {
  return { port, host, reusePort: worker && port !== 0 && platform === "linux" };
}

/** The options createServer takes for these limits (the check interval is fixed at creation). */
export function serverOptions(l: ConnectionLimits) {
  return { handshakeTimeout: l.handshakeTimeoutMs, connectionsCheckingInterval: l.checkIntervalMs };
}

/** Applies the limits to a created server, and the first request's deadline from accept. */
export function limitConnections(server: Server, l: ConnectionLimits, log: Logger): void {
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxConnections = l.maxConnections;
  // The raw socket and the TLS socket over it share their remote address and port, which are
  // unique among one listener's open connections: the request finds its deadline by them.
  const deadlines = new Map<string, NodeJS.Timeout>();
  const key = (s: Socket) => `${s.remoteAddress} ${s.remotePort}`;
  server.on("connection", (socket: Socket) => {
    const k = key(socket);
    const timer = setTimeout(() => socket.destroy(), l.headersTimeoutMs);
    timer.unref();
    deadlines.set(k, timer);
    socket.once("close", () => {
      clearTimeout(timer);
      if (deadlines.get(k) === timer) deadlines.delete(k);
    });
  });
  server.on("request", (req) => {
    const k = key(req.socket);
    clearTimeout(deadlines.get(k));
    deadlines.delete(k);
  });
  let warned = 0;
  server.on("drop", (data) => {
    // One line a minute at most: a flood must not become a flood of log lines.
    const now = Date.now();
    if (now - warned < 60_000) return;
    warned = now;
    log.warn({ remote: data?.remoteAddress, max: l.maxConnections }, "connection limit reached: dropping");
  });
}
