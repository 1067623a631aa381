#!/usr/bin/env bash
# The main job: installs what is missing (idempotent), then runs the whole pipeline on embedded defaults.
# Extra arguments go to `streaming demo`, e.g. ./run-demo.sh --duration 5m --entities 50
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./infra/setup.sh
exec dotnet run --project src/Streaming.Host -c Release -- demo "$@"
