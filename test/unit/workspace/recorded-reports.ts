// The recorded reports under test/fixtures/workspaces/reports, made by running the real runners on the
// fixture projects with a broken calc (see that folder's README), and the folders they were run in.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPORTS_DIR = join(__dirname, "..", "..", "fixtures", "workspaces", "reports");
/** Where the recorded runs happened; their absolute paths appear in the reports. */
export const RECORDED_ROOT = "/tmp/wsgen";

export function recordedReport(name: string): string {
  return readFileSync(join(REPORTS_DIR, name), "utf8");
}
