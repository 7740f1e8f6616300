// "~" and "~/x" in a folder setting mean the user's home folder, as users type them.
import { homedir } from "node:os";
import { join } from "node:path";

export function expandHome(folder: string): string {
  if (folder === "~") return homedir();
  if (folder.startsWith("~/")) return join(homedir(), folder.slice(2));
  return folder;
}
