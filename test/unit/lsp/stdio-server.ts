// The language server as any LSP client starts it: `server/lsp/main.ts --stdio` in a child process, with a
// JSON-RPC connection over its stdin/stdout. Callers register their handlers, then call `conn.listen()`.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";

const ROOT = resolve(__dirname, "..", "..", "..");

export interface StdioServer {
  conn: MessageConnection;
  /** Asks for shutdown and exit (a server that already died is fine), then closes the connection and kills it. */
  stop(): Promise<void>;
}

export function spawnLanguageServer(env: Record<string, string | undefined>): StdioServer {
  const server = spawn(process.execPath, ["--import", "tsx", join(ROOT, "server", "lsp", "main.ts"), "--stdio"], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  return {
    conn,
    async stop() {
      await conn.sendRequest("shutdown").catch(() => {});
      await conn.sendNotification("exit").catch(() => {});
      conn.dispose();
      server.kill();
    },
  };
}
