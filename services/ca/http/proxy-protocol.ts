import { createServer, type Server as NetServer, type Socket } from "node:net";
import type { TLSSocket, Server as TlsServer } from "node:tls";
import type { Logger } from "../../../shared/log.js";
import { canonicalIp, ipFamily, ipFromBytes } from "../core/names.js";

/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2), for replicas behind a TCP
 * load balancer: without it every client has the balancer's address, and the per-address limits
 * (failed authentications, ACME new accounts) become one limit shared by every client, so that
 * one host with a wrong token locks every other out. A connection from an address given to
 * `serve --proxy-protocol-from` must begin with a PROXY header, before TLS; its source address
 * is then the client's (clientAddress). Connections from elsewhere are served as they come.
 */

/** Where a PROXY header put the client's address: on the TLS socket its request is read from. */
const CLIENT = Symbol("certyard.proxiedClientAddress");

/** The client's IP address: the PROXY header's source when one was received, else the peer's. */
export function socketAddress(socket: Socket | undefined): string {
  const proxied = (socket as (Socket & { [CLIENT]?: string }) | undefined)?.[CLIENT];
  return proxied ?? socket?.remoteAddress ?? "unknown";
}

const V1_PREFIX = Buffer.from("PROXY ");
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyHeader {
  /** bytes the header takes, before the client's own */
  length: number;
  /** the client's address; null for LOCAL (the balancer's own health check) and UNKNOWN */
  address: string | null;
}

/**
 * Parses a PROXY header at the start of `buf`: null while more bytes are needed, a ProxyHeader
 * once it is complete; throws on anything that is not one (proxy-protocol.txt 2.1, 2.2).
 */
export function parseProxyHeader(buf: Buffer): ProxyHeader | null {
  const head = buf.subarray(0, Math.min(buf.length, V2_SIGNATURE.length));
  if (head.equals(V2_SIGNATURE.subarray(0, head.length))) {
    if (buf.length < 16) return null;
    const verCmd = buf[12] ?? 0;
    if (verCmd >> 4 !== 2) throw new Error("PROXY v2: version is not 2");
    const length = 16 + buf.readUInt16BE(14);
    if (buf.length < length) return null;
    const command = verCmd & 0x0f;
    if (command === 0) return { length, address: null }; // LOCAL
    if (command !== 1) throw new Error("PROXY v2: unknown command");
    const family = (buf[13] ?? 0) >> 4;
    // 2.2: the addresses follow in network order, source first
    if (family === 1 && length >= 16 + 12) return { length, address: ipFromBytes(buf.subarray(16, 20)) };
    if (family === 2 && length >= 16 + 36) return { length, address: ipFromBytes(buf.subarray(16, 32)) };
    return { length, address: null }; // AF_UNSPEC or AF_UNIX: nothing to say about the client
  }
  const prefix = buf.subarray(0, Math.min(buf.length, V1_PREFIX.length));
  if (!prefix.equals(V1_PREFIX.subarray(0, prefix.length))) throw new Error("no PROXY header");
  const end = buf.indexOf("\r\n");
  if (end < 0) {
    if (buf.length >= V1_MAX) throw new Error("PROXY v1: no CRLF within 107 bytes");
    return null;
  }
  const fields = buf.subarray(0, end).toString("latin1").split(" ");
  const length = end + 2;
  if (fields[1] === "UNKNOWN") return { length, address: null };
  const [, proto, src = ""] = fields;
  const family = ipFamily(src);
  if (
    fields.length !== 6 ||
    !((proto === "TCP4" && family === "ipv4") || (proto === "TCP6" && family === "ipv6"))
  ) {
    throw new Error("PROXY v1: malformed header");
  }
  return { length, address: canonicalIp(src) };
}

/**
 * A plain TCP listener in front of `tls`: a connection from a `trusted` address is read until
 * its PROXY header is complete (within `timeoutMs`, else closed), the header is taken off and
 * the rest handed to the TLS server, whose socket then carries the client's address; any other
 * connection is handed over at once. A malformed header closes the connection.
 */
export function proxyProtocolFront(
  tls: TlsServer,
  trusted: (address: string) => boolean,
  o: { timeoutMs: number; log: Logger },
): NetServer {
  // The raw socket and the TLS socket over it share their remote address and port, unique among
  // open connections: the TLS socket finds the address its raw socket's header gave by them.
  const pending = new Map<string, string>();
  const key = (s: Socket) => `${s.remoteAddress} ${s.remotePort}`;
  tls.prependListener("secureConnection", (socket: TLSSocket) => {
    const address = pending.get(key(socket));
    if (address !== undefined) (socket as TLSSocket & { [CLIENT]?: string })[CLIENT] = address;
  });
  return createServer((socket) => {
    if (!trusted(socketAddress(socket))) {
      tls.emit("connection", socket);
      return;
    }
    const k = key(socket);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), o.timeoutMs);
    timer.unref();
    // Paused mode (read() on 'readable'): what comes after the header is put back with unshift,
    // where the TLS socket made over this one reads it first.
    const onReadable = () => {
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) {
        buf = Buffer.concat([buf, chunk]);
      }
      let header: ProxyHeader | null;
      try {
        header = parseProxyHeader(buf);
      } catch (err) {
        socket.off("readable", onReadable);
        clearTimeout(timer);
        o.log.warn({ remote: socket.remoteAddress, err: (err as Error).message }, "PROXY header refused");
        socket.destroy();
        return;
      }
      if (header === null) return;
      socket.off("readable", onReadable);
      clearTimeout(timer);
      if (header.address !== null) {
        pending.set(k, header.address);
        socket.once("close", () => pending.delete(k));
      }
      const rest = buf.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      tls.emit("connection", socket);
    };
    socket.on("readable", onReadable);
    socket.on("error", () => socket.destroy());
  });
}
