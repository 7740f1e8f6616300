#!/usr/bin/env bash
# Installs a real VS Code (code-server 4.100.3 = VS Code 1.100.3) into .tools/code-server for the
# end-to-end tests, without downloading anything but npm packages. @vscode/test-electron downloads
# VS Code at run time, which these machines cannot do. Idempotent: a finished install is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$here/.tools/code-server"
marker="$tools/.installed-4.100.3"
[ -f "$marker" ] && { echo "code-server already installed in $tools"; exit 0; }

mkdir -p "$tools"
cd "$tools"
[ -f package.json ] || echo '{"name":"rlef-e2e-tools","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error --ignore-scripts code-server@4.100.3

vscode="$tools/node_modules/code-server/lib/vscode"
cd "$vscode"
npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
for m in @parcel/watcher @vscode/spdlog @vscode/deviceid kerberos native-watchdog node-pty; do
  if [ -d "node_modules/$m" ]; then
    (cd "node_modules/$m" && npx --yes node-gyp rebuild >/dev/null 2>&1) || { echo "node-gyp rebuild failed in $m" >&2; exit 1; }
  fi
done
[ -e node_modules.asar ] || ln -s node_modules node_modules.asar
ln -sf code-linux.sh bin/remote-cli/code-server 2>/dev/null || true
ln -sf browser-linux.sh bin/helpers/browser.sh 2>/dev/null || true
(cd extensions && npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts)
cd "$tools" && npm rebuild argon2 --loglevel=error
touch "$marker"
echo "code-server installed in $tools"
