import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { payloadTooLarge } from "../../../shared/problem.js";
import type { AppDeps, AppEnv } from "./context.js";
import { onError, onNotFound, problemResponse } from "./middleware/problems.js";
import { adminRoutes } from "./routes/admin.js";
import { publicRoutes } from "./routes/public.js";
import { renewRoute } from "./routes/renew.js";
import { revokeRoute } from "./routes/revoke.js";
import { signRoute } from "./routes/sign.js";

export const MAX_BODY_BYTES = 64 * 1024;

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => problemResponse(c, payloadTooLarge(`the body may be at most ${MAX_BODY_BYTES} bytes`)),
    }),
  );
  app.route("/", publicRoutes(deps));
  app.route("/", signRoute(deps));
  app.route("/", renewRoute(deps));
  app.route("/", revokeRoute(deps));
  app.route("/", adminRoutes(deps));
  app.onError(onError(deps.log));
  app.notFound(onNotFound);
  return app;
}
