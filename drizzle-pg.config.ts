import { defineConfig } from "drizzle-kit";

/**
 * The PostgreSQL store's migrations (services/ca/store/pg): `npm run db:generate` makes both, after
 * writing pg/schema.ts from the SQLite schema (scripts/pg-schema.ts).
 */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/ca/store/pg/schema.ts",
  out: "./migrations/pg",
});
