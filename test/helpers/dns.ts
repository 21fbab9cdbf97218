import { createSocket } from "node:dgram";

export interface DnsServer {
  /** HOST:PORT, as --acme-dns-resolver takes it */
  address: string;
  close(): void;
}

/**
 * A DNS server on 127.0.0.1 (UDP, RFC 1035 4.1) answering A queries for `names` (lower case,
 * name -> IPv4); any other A, AAAA or TXT question gets an empty answer, an unknown name NXDOMAIN.
 */
export async function startDnsServer(names: Record<string, string>): Promise<DnsServer> {
  const socket = createSocket("udp4");
  socket.on("message", (query, peer) => {
    const labels: string[] = [];
    let pos = 12;
    while (pos < query.length && query[pos] !== 0) {
      const len = query[pos] ?? 0;
      labels.push(query.subarray(pos + 1, pos + 1 + len).toString("latin1"));
      pos += 1 + len;
    }
    const questionEnd = pos + 5;
    const qtype = query.readUInt16BE(pos + 1);
    const name = labels.join(".").toLowerCase();
    const ip = names[name];
    const answer =
      ip && qtype === 1
        ? Buffer.concat([
            Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]),
            Buffer.from(ip.split(".").map(Number)),
          ])
        : Buffer.alloc(0);
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180 | (name in names ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer.length ? 1 : 0, 6);
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { address: `127.0.0.1:${socket.address().port}`, close: () => socket.close() };
}
