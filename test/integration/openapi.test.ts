import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { inspectRoutes } from "hono/dev";
import pino from "pino";
import { createApp } from "../../services/ca/http/app.js";
import type { AppDeps } from "../../services/ca/http/context.js";
import { openApiDocument } from "../../services/ca/http/openapi/document.js";
import { RENEW_PATH } from "../../services/ca/http/routes/renew.js";
import { SIGN_PATH } from "../../services/ca/http/sign.js";
import { startCa, type TestCa } from "../helpers/ca.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** "METHOD /path" for every operation of the document, with {param} as hono writes :param. */
function documented(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => METHODS.includes(k))
      .map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`),
  );
}

describe("GET /openapi.json", () => {
  let ca: TestCa;
  before(async () => {
    ca = await startCa();
  });
  after(() => ca.close());

  test("is served to anyone, as OpenAPI 3.1 JSON", async () => {
    const res = await ca.request("/openapi.json");
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const doc = res.json<{ openapi: string; info: { version: string } }>();
    assert.equal(doc.openapi, "3.1.0");
    assert.match(doc.info.version, /^\d+\.\d+\.\d+/);
  });

  test("passes the OpenAPI 3.1 schema", async () => {
    const doc = (await ca.request("/openapi.json")).json();
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    // and the validator does refuse: a response without its required description
    const broken = structuredClone(doc) as {
      paths: { "/healthz": { get: { responses: Record<string, object> } } };
    };
    broken.paths["/healthz"].get.responses["200"] = {};
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  test("names every route the server has, with its methods, and no other (ACME beyond its directory aside)", () => {
    // The app only registers routes here; no handler runs, so no part of deps is used but the logger.
    const app = createApp({ log: pino({ level: "silent" }) } as unknown as AppDeps, async () => {
      throw new Error("not called");
    });
    const served = inspectRoutes(app)
      .filter((r) => !r.isMiddleware && !r.path.startsWith("/acme"))
      .map((r) => `${r.method} ${r.path}`);
    // POST /v1/sign and POST /v1/renew are served ahead of hono (http/sign.ts, http/routes/renew.ts)
    served.push(`POST ${SIGN_PATH}`, `POST ${RENEW_PATH}`);
    const inDoc = documented(openApiDocument("0.0.0"));
    assert.ok(inDoc.includes("GET /acme/directory"));
    assert.deepEqual([...new Set(served)].sort(), inDoc.filter((r) => r !== "GET /acme/directory").sort());
  });

  test("the request bodies are the routes' own: a field the server refuses is not in the document", async () => {
    const doc = openApiDocument("0.0.0");
    const sign = doc.paths["/v1/sign"].post.requestBody.content["application/json"].schema as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    assert.deepEqual(Object.keys(sign.properties).sort(), ["csr", "validity"]);
    assert.deepEqual(sign.required, ["csr"]);
    assert.equal(sign.additionalProperties, false);
    const token = await ca.createToken({ name: "t", dns: ["registry.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: "x", extra: 1 }, token });
    assert.equal(res.status, 400);
  });
});
