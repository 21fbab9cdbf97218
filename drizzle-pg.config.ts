import { defineConfig } from "drizzle-kit";

/** The PostgreSQL store's migrations (services/ca/store/pg): `npm run db:generate` makes both. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/ca/store/pg/schema.ts",
  out: "./migrations/pg",
});
