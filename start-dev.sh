#!/usr/bin/env sh
# One-command start on Linux/macOS: server, dashboard, controller and 3 bots in this terminal.
# Ctrl-C stops everything. Pass --demo for fast settings (a batch every 10 s, 3 s jobs).
set -e
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
  echo "start-dev: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
exec npm run dev:all -- "$@"
