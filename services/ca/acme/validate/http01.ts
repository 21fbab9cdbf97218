import { request } from "node:http";
import { connectionProblem, incorrectResponse } from "../../../../shared/acme/problems.js";
import type { Identifier } from "../../../../shared/acme/types.js";

const MAX_BODY = 8192;

/**
 * RFC 8555 8.3 http-01: GET http://NAME:PORT/.well-known/acme-challenge/TOKEN must answer 200
 * with the key authorization (surrounding whitespace allowed). Redirects are not followed.
 */
export function http01(
  identifier: Identifier,
  address: string,
  port: number,
  token: string,
  keyAuthorization: string,
): Promise<void> {
  const hostName =
    identifier.type === "ip" && identifier.value.includes(":") ? `[${identifier.value}]` : identifier.value;
  const url = `http://${hostName}${port === 80 ? "" : `:${port}`}/.well-known/acme-challenge/${token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address,
        port,
        path: `/.well-known/acme-challenge/${token}`,
        headers: { host: port === 80 ? hostName : `${hostName}:${port}`, "user-agent": "certyard-acme-va" },
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
          if (body.length > MAX_BODY) res.destroy();
        });
        res.on("close", () => {
          if (res.statusCode !== 200) return reject(incorrectResponse(`${url} answered ${res.statusCode}`));
          if (body.trim() !== keyAuthorization) {
            return reject(incorrectResponse(`${url} did not return the key authorization`));
          }
          resolve();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => reject(connectionProblem(`cannot fetch ${url} from ${address}: ${e.message}`)));
    req.end();
  });
}
