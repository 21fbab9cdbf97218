import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./services/ca/store/schema.ts",
  out: "./migrations",
});
