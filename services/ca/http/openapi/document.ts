import { z } from "zod";
import { newTokenSchema } from "../../tokens/requests.js";
import { hostReportSchema } from "../routes/hosts.js";
import { renewSchema } from "../routes/renew.js";
import { revokeSchema } from "../routes/revoke.js";
import { signSchema } from "../sign.js";
import { issued, responseSchemas } from "./schemas.js";

/**
 * The OpenAPI 3.1 document of the CA's HTTP API (GET /openapi.json), ACME's RFC 8555 endpoints
 * apart from the directory. Hand-written paths and responses, because the routes are plain hono
 * and the sign path is served before hono (sign.ts); the request bodies are generated from the
 * very zod schemas the routes validate with (zod's JSON Schema is draft 2020-12, OpenAPI 3.1's
 * dialect), so a body field cannot change without the document. test/integration/openapi.test.ts
 * holds the document against the routes the server has.
 */

const body = (schema: z.ZodType) => {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: "input" });
  return { required: true, content: { "application/json": { schema: json } } };
};

const json = (description: string, ref: string) => ({
  description,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const pem = (description: string) => ({
  description,
  content: { "application/x-pem-file": { schema: { type: "string" } } },
});
const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      {
        description: PROBLEM_TEXT[s] ?? "a problem",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      },
    ]),
  );
const PROBLEM_TEXT: Record<number, string> = {
  400: "malformed input or CSR",
  401: "missing or bad credential",
  403: "a name or an action the credential may not have",
  404: "no such certificate",
  413: "body over 64 KiB",
  415: "a media type the endpoint does not take",
  429: "rate limited (Retry-After)",
  503: "the database cannot be written now (Retry-After)",
};

const admin = [{ adminToken: [] }];

export function openApiDocument(version: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "certyard CA",
      version,
      summary: "A small private CA for Docker registries",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    paths: {
      "/healthz": {
        get: {
          summary: "whether the database and keys are usable",
          responses: { "200": json("ok", "Health"), ...problems(503) },
        },
      },
      "/roots.pem": {
        get: { summary: "the root certificate(s) clients trust", responses: { "200": pem("PEM") } },
      },
      "/chain.pem": {
        get: {
          summary: "the intermediate certificate(s) issued leaves chain through",
          responses: { "200": pem("PEM") },
        },
      },
      "/v1/root": {
        get: {
          summary: "the root certificate and its SHA-256 fingerprint",
          responses: { "200": json("the current root", "Root") },
        },
      },
      "/openapi.json": {
        get: {
          summary: "this document",
          responses: { "200": { description: "OpenAPI 3.1", content: { "application/json": {} } } },
        },
      },
      "/crl": {
        get: {
          summary: "the current CRL of the intermediate init made (retired or not), DER",
          responses: {
            "200": {
              description: "DER",
              content: { "application/pkix-crl": { schema: { type: "string", format: "binary" } } },
            },
          },
        },
      },
      "/crl/{keyId}": {
        get: {
          summary:
            "the current CRL of a later intermediate (its key identifier, hex), as its leaves name it, DER",
          parameters: [
            {
              name: "keyId",
              in: "path",
              required: true,
              schema: { type: "string", pattern: "^[0-9a-f]{40}$" },
            },
          ],
          responses: {
            "200": {
              description: "DER",
              content: { "application/pkix-crl": { schema: { type: "string", format: "binary" } } },
            },
            ...problems(404),
          },
        },
      },
      "/v1/sign": {
        post: {
          summary: "a certificate for a CSR, under an enrolment token's policy",
          security: [{ enrolToken: [] }],
          requestBody: body(signSchema),
          responses: {
            "201": issued("the issued certificate"),
            ...problems(400, 401, 403, 413, 415, 429, 503),
          },
        },
      },
      "/v1/renew": {
        post: {
          summary: "a new certificate with the same names, the current one presented over mutual TLS",
          security: [{ mutualTLS: [] }],
          requestBody: { ...body(renewSchema), required: false },
          responses: { "201": issued("the renewed certificate"), ...problems(400, 401, 403, 413, 415, 503) },
        },
      },
      "/v1/revoke": {
        post: {
          summary: "revoke a certificate: by the admin token, or by the certificate itself over mutual TLS",
          security: [{ adminToken: [] }, { mutualTLS: [] }],
          requestBody: body(revokeSchema),
          responses: { "200": json("revoked", "Revoked"), ...problems(400, 401, 403, 404, 413, 415, 503) },
        },
      },
      "/v1/certs": {
        get: {
          summary: "the inventory of issued certificates",
          security: admin,
          parameters: [
            query("expiring", "only those expiring within this duration (the expired included), e.g. 30d"),
            query(
              "state",
              "valid, superseded, expired, revoked (comma-separated) or all; default: all but revoked",
            ),
            query("name", "only those carrying this DNS name (any case) or IP address"),
            query("ip", "only those carrying this IP address"),
            query("token", "only those issued through this token (its name or id)"),
            query("serial", "only the certificate with this serial (hex)"),
            query("limit", "rows per page, 1 to 1000; default 100"),
            query("cursor", "where the page starts: the `next` of the page before"),
          ],
          responses: { "200": json("the inventory", "Inventory"), ...problems(400, 401) },
        },
      },
      "/v1/hosts/report": {
        post: {
          summary:
            "a host reports what it serves, authenticated by a certificate this CA issued (expired ones too, not revoked ones)",
          security: [{ mutualTLS: [] }],
          requestBody: body(hostReportSchema),
          responses: { "204": { description: "recorded" }, ...problems(400, 401, 403, 413, 415, 503) },
        },
      },
      "/v1/hosts": {
        get: {
          summary: "each host's last report, against the newest certificate issued for its names",
          security: admin,
          responses: { "200": json("the hosts", "Hosts"), ...problems(401) },
        },
      },
      "/v1/tokens": {
        post: {
          summary: "create an enrolment token (the same fields as token create)",
          security: admin,
          requestBody: body(newTokenSchema),
          responses: {
            "201": json("the token, with its secret (shown once)", "NewToken"),
            ...problems(400, 401, 413, 415),
          },
        },
      },
      "/metrics": {
        get: {
          summary:
            "Prometheus metrics of the whole serve process tree (also on serve --metrics-listen, without authentication)",
          security: admin,
          responses: {
            "200": {
              description: "Prometheus text exposition format 0.0.4",
              content: { "text/plain": { schema: { type: "string" } } },
            },
            ...problems(401, 503),
          },
        },
      },
      "/acme/directory": {
        get: {
          summary: "the ACME directory (RFC 8555 7.1.1); the ACME endpoints it names follow RFC 8555",
          responses: { "200": { description: "the directory", content: { "application/json": {} } } },
        },
      },
    },
    components: {
      schemas: responseSchemas,
      securitySchemes: {
        adminToken: { type: "http", scheme: "bearer", description: "the admin token (DATA/admin-token)" },
        enrolToken: { type: "http", scheme: "bearer", description: "an enrolment token (token create)" },
        mutualTLS: { type: "mutualTLS", description: "a certificate this CA issued, current and unrevoked" },
      },
    },
  };
}

/** An optional query parameter taking text. */
function query(name: string, description: string) {
  return { name, in: "query", required: false, description, schema: { type: "string" } } as const;
}
