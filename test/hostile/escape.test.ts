// Programs that try to reach outside the sandbox: the network, the host's files, the parent's secrets,
// the parent process itself. Each attempt must fail and leave the host unchanged.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sandbox } from "../../server/env/sandbox/types";
import { assertNothingLeft, openIsolatedSandbox, processesWithMarker, python, uniqueMarker } from "./hostile-sandbox";

let sandbox: Sandbox;
before(async () => {
  sandbox = await openIsolatedSandbox();
});
after(async () => {
  await sandbox?.dispose();
});

const limits = { wallMs: 15_000 };

test("a TCP connection to a listener on the host's loopback never arrives", async () => {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const marker = uniqueMarker("tcp");
  try {
    const source = [
      "import socket",
      "try:",
      `    socket.create_connection(('127.0.0.1', ${port}), timeout=3)`,
      "    print('connected')",
      "except OSError as e: print('refused', type(e).__name__)",
    ].join("\n");
    const result = await sandbox.exec({ argv: python(source, marker), limits });
    assert.match(result.stdout.toString(), /^refused /, result.stdout.toString() + result.stderr.toString());
    assert.equal(connections, 0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  assertNothingLeft(marker);
});

test("the only network interface inside is loopback", async () => {
  const marker = uniqueMarker("ifaces");
  const result = await sandbox.exec({ argv: python("import socket\nprint([n for _, n in socket.if_nameindex()])", marker), limits });
  assert.equal(result.stdout.toString(), "['lo']\n");
});

test("a DNS lookup fails", async () => {
  const marker = uniqueMarker("dns");
  const source = [
    "import socket",
    "for host in ['example.com', 'registry.npmjs.org']:",
    "    try:",
    "        print('resolved', host, socket.getaddrinfo(host, 443))",
    "    except OSError as e: print('failed', host)",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits });
  assert.equal(result.stdout.toString(), "failed example.com\nfailed registry.npmjs.org\n", result.stderr.toString());
});

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out[name] = statSync(path).isDirectory() ? "<dir>" : readFileSync(path, "utf8");
  }
  return out;
}

test("writes outside the working directory fail and leave the host unchanged", async () => {
  const workspace = mkdtempSync(join(tmpdir(), "rlef-workspace-"));
  writeFileSync(join(workspace, "main.py"), "original\n");
  const before = snapshot(workspace);
  const rootBefore = readdirSync("/root").sort();
  const marker = uniqueMarker("write");
  try {
    const targets = [
      join(workspace, "main.py"),
      join(workspace, "new.txt"),
      "/ro/main.py",
      "/ro/new.txt",
      "/root/pwned",
      "/usr/pwned",
      "/etc/pwned",
      "/pwned",
      process.env.HOME ? join(process.env.HOME, "pwned") : "/root/pwned2",
    ];
    const source = [
      "import json",
      `targets = ${JSON.stringify(targets)}`,
      "written = []",
      "for t in targets:",
      "    try:",
      "        with open(t, 'w') as f: f.write('pwned')",
      "        written.append(t)",
      "    except OSError: pass",
      "print(json.dumps(written))",
    ].join("\n");
    const result = await sandbox.exec({ argv: python(source, marker), readOnly: [{ host: workspace, sandbox: "/ro" }], limits });
    assert.equal(result.stdout.toString(), "[]\n", result.stderr.toString());
    assert.deepEqual(snapshot(workspace), before);
    assert.deepEqual(readdirSync("/root").sort(), rootBefore);
    assert.equal(existsSync("/usr/pwned"), false);
    assert.equal(existsSync("/pwned"), false);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
  assertNothingLeft(marker);
});

test("deleting system files and the interpreter fails and leaves them in place", async () => {
  const marker = uniqueMarker("delete");
  const source = [
    "import os, shutil, sys",
    "errors = 0",
    "for path in ['/usr/bin/env', '/etc/passwd', '/etc/ld.so.cache', sys.executable]:",
    "    try: os.remove(path)",
    "    except OSError: errors += 1",
    "shutil.rmtree('/usr', ignore_errors=True)",
    "shutil.rmtree(sys.prefix, ignore_errors=True)",
    "print(errors, os.path.exists('/usr/bin/env'), os.path.exists(sys.executable))",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits });
  assert.equal(result.stdout.toString(), "4 True True\n", result.stderr.toString());
  assert.ok(existsSync("/usr/bin/env"));
  const again = await sandbox.exec({ argv: ["python3", "-c", "print('still runs')"], limits });
  assert.equal(again.stdout.toString(), "still runs\n");
});

test("the home folder's ~/.ssh is not readable, by ~ or by absolute path", async () => {
  const fakeHome = mkdtempSync(join(tmpdir(), "rlef-home-"));
  mkdirSync(join(fakeHome, ".ssh"));
  writeFileSync(join(fakeHome, ".ssh", "id_ed25519"), "PRIVATE KEY rlef-fake\n");
  const savedHome = process.env.HOME;
  process.env.HOME = fakeHome;
  const marker = uniqueMarker("ssh");
  try {
    const source = [
      "import os",
      `for path in [os.path.expanduser('~/.ssh/id_ed25519'), ${JSON.stringify(join(fakeHome, ".ssh", "id_ed25519"))}, '/root/.ssh/id_rsa', '/root/.bash_history']:`,
      "    try: print('READ', open(path).read())",
      "    except OSError: print('denied')",
    ].join("\n");
    const result = await sandbox.exec({ argv: python(source, marker), limits });
    assert.equal(result.stdout.toString(), "denied\ndenied\ndenied\ndenied\n", result.stderr.toString());
  } finally {
    process.env.HOME = savedHome;
    rmSync(fakeHome, { recursive: true, force: true });
  }
});

test("the parent's environment is invisible, through os.environ and through /proc", async () => {
  process.env.RLEF_HOSTILE_SECRET = "rlef-secret-value-8c1f";
  const marker = uniqueMarker("env");
  try {
    const source = [
      "import os",
      "seen = ' '.join(f'{k}={v}' for k, v in os.environ.items())",
      "for pid in os.listdir('/proc'):",
      "    if pid.isdigit():",
      "        try: seen += open(f'/proc/{pid}/environ', 'rb').read().decode('latin1')",
      "        except OSError: pass",
      `try: seen += open('/proc/${process.pid}/environ', 'rb').read().decode('latin1')`,
      "except OSError: pass",
      "print(seen)",
    ].join("\n");
    const result = await sandbox.exec({ argv: python(source, marker), limits });
    assert.equal(result.exitCode, 0, result.stderr.toString());
    assert.ok(!result.stdout.toString().includes("rlef-secret-value-8c1f"));
  } finally {
    delete process.env.RLEF_HOSTILE_SECRET;
  }
});

test("killing the parent, the test runner or every process it can see does not reach outside", async () => {
  const marker = uniqueMarker("killparent");
  const source = [
    "import os, signal",
    `for pid in [os.getppid(), ${process.pid}, ${process.ppid}, 1]:`,
    "    try: os.kill(pid, signal.SIGKILL); print('sent', pid == os.getppid())",
    "    except OSError as e: print('refused', type(e).__name__)",
    "try: os.kill(-1, signal.SIGKILL)",
    "except OSError: pass",
    "print('alive')",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits });
  // We are still running, so the runner survived; the program's own view shows why: host pids do not
  // exist in its pid namespace, and its parent is the namespace's init, which ignores SIGKILL from inside.
  assert.match(result.stdout.toString(), /refused ProcessLookupError/);
  assert.equal(process.kill(process.pid, 0), true);
  assertNothingLeft(marker);
});

test("a background child that outlives its parent is killed with the run", async () => {
  const marker = uniqueMarker("orphan");
  const source = [
    "import os, time",
    "if os.fork() == 0:",
    "    os.setsid()",
    "    if os.fork() == 0:",
    "        time.sleep(300)",
    "    os._exit(0)",
    "time.sleep(0.3)",
    "print('parent done')",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits });
  assert.equal(result.termination, "exited");
  assert.equal(result.stdout.toString(), "parent done\n");
  assertNothingLeft(marker);
});

test("a symlink left in place of a collected file does not read host files", async () => {
  const secretDir = mkdtempSync(join(tmpdir(), "rlef-secret-"));
  writeFileSync(join(secretDir, "secret"), "host secret");
  const marker = uniqueMarker("symlink");
  try {
    const result = await sandbox.exec({
      argv: python(`import os\nos.symlink(${JSON.stringify(join(secretDir, "secret"))}, 'report.xml')\nos.symlink('/etc', 'etc')`, marker),
      collect: ["report.xml", "etc/hostname"],
      limits,
    });
    assert.equal(result.exitCode, 0, result.stderr.toString());
    assert.deepEqual(result.collected, {});
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
});

test("no capability survives, and host-wide /proc knobs stay read-only for a uid that maps to root", async () => {
  const marker = uniqueMarker("caps");
  const source = [
    "import socket",
    "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]",
    "print('caps', caps)",
    "try: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print('raw socket')",
    "except OSError: print('no raw socket')",
    "for knob in ['/proc/sys/vm/drop_caches', '/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger']:",
    "    try:",
    "        with open(knob, 'w') as f: f.write('3' if 'drop' in knob else ('h' if 'sysrq' in knob else 'core'))",
    "        print('wrote', knob)",
    "    except OSError: print('read-only')",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits });
  assert.equal(result.stdout.toString(), "caps 0000000000000000\nno raw socket\nread-only\nread-only\nread-only\n", result.stderr.toString());
  assert.equal(processesWithMarker(marker).length, 0);
});
