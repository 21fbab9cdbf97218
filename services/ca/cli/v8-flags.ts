import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The V8 settings `serve` runs with, measured on node 24 (README, "Processes and memory").
 *
 * V8 grows a busy process's young generation to 2 x 16 MiB semi-spaces and keeps them when it
 * goes idle; neither time nor a forced GC gives them back. With 4 MiB semi-spaces one serving
 * process holds about 51 MiB PSS idle after start and 79 MiB after a sign load, against 61 and
 * 115 MiB with V8's defaults, for no measurable loss of req/s on this 2-core machine (its noise
 * is larger). 1 MiB semi-spaces saved little more idle (49 MiB) and promoted more to the old
 * generation under load (105 MiB after it). The operator's own --max-semi-space-size (argv or
 * NODE_OPTIONS) wins.
 */
export const SERVE_V8_FLAGS = ["--max-semi-space-size=4"];

/** The flags to add to a serving process's execArgv: none when the operator chose their own. */
export function missingV8Flags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const own = [...execArgv, nodeOptions ?? ""].some((a) => a.includes("--max-semi-space-size"));
  return own ? [] : SERVE_V8_FLAGS;
}

/** openssl/serve.cnf of this package: its TLS servers send no session tickets (issue 16). */
export const SERVE_OPENSSL_CONFIG = fileURLToPath(new URL("../../../../openssl/serve.cnf", import.meta.url));

/**
 * `--openssl-config` with openssl/serve.cnf, unless the operator chose an OpenSSL configuration
 * (OPENSSL_CONF, or an --openssl-* flag in argv or NODE_OPTIONS), which then wins, tickets and
 * all; none either where the file is missing.
 *
 * After a full TLS 1.3 handshake OpenSSL sends two session tickets by default, each a serialised
 * copy of the session with the client's certificate in it. No client of certyard resumes with
 * them: an agent renews on a new connection presenting the certificate the last renewal returned,
 * and a resumed session would present the old one. A bare mutual-TLS server measured 1.59-1.99 ms
 * of CPU per new connection with request without them against 1.82-2.14 ms with (4 alternating
 * rounds, load average 4-6); the load client spent 2.64-3.02 against 2.71-3.04 ms. node has no
 * option for SSL_CTX_set_num_tickets, so OpenSSL's configuration sets it (NumTickets = 0).
 */
export function missingOpenSslFlags(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  opensslConf: string | undefined,
  config = SERVE_OPENSSL_CONFIG,
): string[] {
  const own =
    opensslConf !== undefined || [...execArgv, nodeOptions ?? ""].some((a) => a.includes("--openssl-"));
  return own || !existsSync(config) ? [] : [`--openssl-config=${config}`];
}

/** Every flag a serving process is started with (V8's, OpenSSL's configuration). */
export function missingServeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return [
    ...missingV8Flags(execArgv, nodeOptions),
    ...missingOpenSslFlags(execArgv, nodeOptions, process.env.OPENSSL_CONF),
  ];
}
