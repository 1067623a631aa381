#!/usr/bin/env bash
# Sink (TimescaleWriter, binary COPY + offsets in one transaction) vs psql \copy of the same rows into the same
# table, alternating rounds in one run. Extra arguments go to the benchmark: --rows N --batch N --rounds N.
# Uses the private local cluster under .local/bench-postgres, or STREAMING_PG (superuser connection string) when set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//')"
dotnet build -c Release benchmarks/Streaming.Storage.Bench -v q -nologo >/dev/null
exec dotnet benchmarks/Streaming.Storage.Bench/bin/Release/net10.0/Streaming.Storage.Bench.dll --state "$root/.local/bench-postgres" "$@"
