import { createServer } from "node:http";

export interface Http01Responder {
  port: number;
  /** what GET /.well-known/acme-challenge/<token> answers: token -> key authorization */
  answers: Map<string, string>;
  close(): void;
}

/**
 * An ACME client's http-01 responder on 127.0.0.1, for the CA's validator to connect to: the
 * key authorization set for the token in the path, else 404. `beforeAnswer` holds each answer
 * back (a slow client).
 */
export async function startHttp01Responder(beforeAnswer?: () => Promise<void>): Promise<Http01Responder> {
  const answers = new Map<string, string>();
  const server = createServer(async (req, res) => {
    await beforeAnswer?.();
    const answer = answers.get(req.url?.split("/").pop() ?? "");
    res.writeHead(answer ? 200 : 404).end(answer ?? "");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    answers,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
