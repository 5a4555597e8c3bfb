#!/usr/bin/env sh
# Run docker compose with whichever tool this machine has: the v2 plugin (`docker compose`)
# where it exists, else the standalone v1 (`docker-compose`, 1.28 or newer for profiles).
# Arguments are passed on unchanged: scripts/compose.sh --profile monitoring up -d
if docker compose version >/dev/null 2>&1; then
    exec docker compose "$@"
elif command -v docker-compose >/dev/null 2>&1; then
    exec docker-compose "$@"
fi
echo "compose.sh: neither \`docker compose\` nor \`docker-compose\` is installed" >&2
exit 127
