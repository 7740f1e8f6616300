// Runs inside the sandbox: evaluates a JS program, then each test case on its own with a per-case time limit,
// appending one JSON line per case to results.jsonl as it goes, so a process killed mid-run still tells which
// cases finished. Input: payload.json { preamble, program, programFile, cases: [code], caseTimeoutMs, stopAtFirstFailure }. CommonJS on purpose:
// it is started as a plain file by `node`, with no loader.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node without a loader */
"use strict";
const fs = require("node:fs");
const vm = require("node:vm");
const util = require("node:util");

const RESULTS = "results.jsonl";
const VALUE_LIMIT = 4000;

function show(value) {
  const text = util.inspect(value, { depth: 6, maxArrayLength: 200, maxStringLength: VALUE_LIMIT, breakLength: Infinity });
  return text.length > VALUE_LIMIT ? `${text.slice(0, VALUE_LIMIT)}…` : text;
}

function report(record) {
  fs.appendFileSync(RESULTS, `${JSON.stringify(record)}\n`);
}

function describeError(error) {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) {
    return { kind: "exception", message: `thrown value: ${show(error)}` };
  }
  if (error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return { kind: "timeout", message: String(error.message) };
  const isAssertion = error.name === "AssertionError" || error.code === "ERR_ASSERTION" || error.isAssertionShim === true;
  const out = {
    kind: isAssertion ? "assertion" : "exception",
    message: `${error.name || "Error"}: ${error.message}`,
    stack: typeof error.stack === "string" ? error.stack : undefined,
  };
  if (isAssertion && "actual" in error && "expected" in error && error.isAssertionShim !== true) {
    out.actual = show(error.actual);
    out.expected = show(error.expected);
  }
  return out;
}

function runScript(code, filename, timeout) {
  vm.runInThisContext(code, { filename, timeout, displayErrors: false });
}

function main() {
  const payload = JSON.parse(fs.readFileSync("payload.json", "utf8"));
  // Programs transpiled to CommonJS and test programs that call require() expect these globals.
  globalThis.require = require;
  globalThis.module = { exports: {} };
  globalThis.exports = globalThis.module.exports;
  const timeout = payload.caseTimeoutMs;
  try {
    if (payload.preamble) runScript(payload.preamble, "preamble.js", timeout);
    runScript(payload.program, payload.programFile, timeout);
  } catch (error) {
    report({ phase: "program", ...describeError(error) });
    return;
  }
  report({ phase: "program", kind: "ok" });
  for (let index = 0; index < payload.cases.length; index++) {
    report({ phase: "start", index });
    try {
      runScript(payload.cases[index], `test-${index + 1}.js`, timeout);
      report({ phase: "case", index, kind: "passed" });
    } catch (error) {
      report({ phase: "case", index, ...describeError(error) });
      if (payload.stopAtFirstFailure) break;
    }
  }
}

main();
