// Entry point of the bundled language server: `node dist/server.js --stdio`.
import { join } from "node:path";
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { startServer } from "./server";

// dist/server.js sits one folder below the extension root, which holds models/demo.
startServer(createConnection(ProposedFeatures.all), join(__dirname, ".."));
