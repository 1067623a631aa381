#!/usr/bin/env bash
# Side-by-side benchmark of the LSTM forecaster (16 -> 64, T = 32, linear head), one thread each:
# Streaming.Models via BenchmarkDotNet (with [MemoryDiagnoser]) and PyTorch (Debian python3-torch) via models_torch.py.
#
#   tools/bench/models.sh                 # PyTorch with Debian's default libblas (reference BLAS unless changed)
#   TORCH_OPENBLAS=1 tools/bench/models.sh  # also PyTorch with OpenBLAS (libopenblas0-pthread unpacked to /tmp, not installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d)

echo "machine: $(nproc) cpus, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build -c Release benchmarks/Streaming.Benchmarks >/dev/null
# BenchmarkDotNet builds its runner from the project, so it runs from the project directory.
(cd benchmarks/Streaming.Benchmarks && dotnet run -c Release --no-build -- \
    --filter '*LstmForecasterBenchmarks*' --warmupCount 5 --iterationCount 20 --affinity 1 --exporters json --artifacts "$OUT" >"$OUT/bdn.log")
REPORT=$(find "$OUT" -name '*LstmForecasterBenchmarks*-report-full*.json' | head -1)
grep -E '^\| ' "$OUT/bdn.log"

taskset -c 0 /usr/bin/python3 tools/bench/models_torch.py 5 >"$OUT/torch.txt"
if [[ "${TORCH_OPENBLAS:-0}" == "1" ]]; then
    BLAS_DIR=/tmp/openblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread
    if [[ ! -f "$BLAS_DIR/libblas.so.3" ]]; then
        mkdir -p /tmp/openblas && (cd /tmp/openblas && apt-get download libopenblas0-pthread >/dev/null 2>&1 && dpkg-deb -x libopenblas0-pthread*.deb root)
    fi
    OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH="$BLAS_DIR" taskset -c 0 /usr/bin/python3 tools/bench/models_torch.py 5 | sed 's/^torch/torch+openblas/' >>"$OUT/torch.txt"
fi

/usr/bin/python3 - "$REPORT" "$OUT/torch.txt" <<'PY'
import json, sys
# Best (minimum) time per batch on both sides: on a shared machine other load only ever adds time. Medians for context.
report = json.load(open(sys.argv[1]))
ours = {}
for b in report["Benchmarks"]:
    batch = int(b["Parameters"].split("=")[1])
    s = b["Statistics"]
    ours[batch] = (s["Min"] / 1e3, s["Median"] / 1e3, b["Memory"]["BytesAllocatedPerOperation"])
torch = {}
for line in open(sys.argv[2]):
    name, batch, _, best_us, median_us = line.split()
    torch.setdefault(name, {})[int(batch)] = (float(best_us), float(median_us))
names = list(torch)
print()
print("| batch | Streaming.Models windows/s best (median) | allocated per batch | "
      + " | ".join(f"{n} windows/s best (median)" for n in names) + " | " + " | ".join(f"speed-up vs {n}" for n in names) + " |")
print("|---|---|---|" + "---|" * (2 * len(names)))
for batch, (best_us, median_us, alloc) in sorted(ours.items()):
    wps = lambda us: batch / (us / 1e6)
    row = [str(batch), f"{wps(best_us):,.0f} ({wps(median_us):,.0f})", f"{alloc} B"]
    row += [f"{wps(torch[n][batch][0]):,.0f} ({wps(torch[n][batch][1]):,.0f})" for n in names]
    row += [f"{torch[n][batch][0] / best_us:.1f}x" for n in names]
    print("| " + " | ".join(row) + " |")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$OUT"
