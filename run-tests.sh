#!/usr/bin/env bash
# All tests: installs what is missing (idempotent), then runs every test project against real Kafka and PostgreSQL.
# KAFKA_BOOTSTRAP_SERVERS and STREAMING_PG point the integration tests at your own servers instead of the embedded ones.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# Debian's python3-torch checks that a model trained here loads in PyTorch (PyTorchRoundTripTests); about 50 s, once.
STREAMING_EXTRA_PKGS="${STREAMING_EXTRA_PKGS:-} python3-torch" ./infra/setup.sh
dotnet build Streaming.sln -c Release --nologo -v quiet
# A test that hangs is stopped after 10 min and named (the longest test takes about 2 min), so a hang fails the run
# instead of holding it until an outer timeout.
exec dotnet test Streaming.sln -c Release --no-build --nologo --logger "console;verbosity=normal" \
  --blame-hang-timeout 10min --blame-hang-dump-type none "$@"
