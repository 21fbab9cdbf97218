/**
 * The PostgreSQL half of drizzle, loaded through CommonJS for the reason ../drizzle.cts gives,
 * and only by the PostgreSQL store (pg-core, node-postgres and pg cost a SQLite process 80-120 ms
 * to load). drizzle's common parts (sql, eq, ...) come from ../drizzle.cjs, the one copy of them.
 */
export { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
export { migrate } from "drizzle-orm/node-postgres/migrator";
export {
  bigint,
  getTableConfig,
  index,
  jsonb,
  type PgColumn,
  PgTable,
  pgTable,
  primaryKey,
  text,
  unionAll,
} from "drizzle-orm/pg-core";
