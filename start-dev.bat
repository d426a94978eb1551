@echo off
rem One-command start on Windows: server, dashboard, controller and 3 bots in this window.
rem Ctrl-C stops everything. Pass --demo for fast settings (a batch every 10 s, 3 s jobs).
setlocal
cd /d "%~dp0"
if not exist node_modules (
  echo start-dev: installing dependencies ^(npm ci^)
  call npm ci --no-audit --no-fund || exit /b 1
)
call npm run dev:all -- %*
