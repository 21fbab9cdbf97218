import { Hono } from "hono";
import { certyardVersion } from "../../../../shared/version.js";
import type { AppEnv } from "../context.js";
import { openApiDocument } from "./document.js";

/** GET /openapi.json: the API's OpenAPI 3.1 document, open to anyone, built once. */
export function openApiRoute() {
  const app = new Hono<AppEnv>();
  let text: string | undefined;
  app.get("/openapi.json", (c) => {
    text ??= JSON.stringify(openApiDocument(certyardVersion()));
    return c.body(text, 200, { "content-type": "application/json" });
  });
  return app;
}
