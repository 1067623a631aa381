#!/usr/bin/env bash
# All tests: installs what is missing (idempotent), then runs every test project against real Kafka and PostgreSQL.
# KAFKA_BOOTSTRAP_SERVERS and STREAMING_PG point the integration tests at your own servers instead of the embedded ones.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./infra/setup.sh
dotnet build Streaming.sln -c Release --nologo -v quiet
exec dotnet test Streaming.sln -c Release --no-build --nologo --logger "console;verbosity=normal" "$@"
