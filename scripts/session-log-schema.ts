// Writes the session log's JSON Schema where the trainer reads it (trainer/rlef_trainer/session_log.schema.json),
// from server/session-log/record.ts, the one definition. `node --import tsx scripts/session-log-schema.ts`;
// test/unit/session-log/schema-file.test.ts fails when the two differ.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SESSION_LOG_SCHEMA } from "../server/session-log/record";

export const SCHEMA_FILE = join(__dirname, "..", "trainer", "rlef_trainer", "session_log.schema.json");

export function schemaFileText(): string {
  return JSON.stringify(SESSION_LOG_SCHEMA, null, 2) + "\n";
}

if (require.main === module) {
  writeFileSync(SCHEMA_FILE, schemaFileText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
