#!/usr/bin/env bash
# Side-by-side benchmark of the LSTM forecaster (16 -> 64, T = 32, linear head 64 -> 16), one thread each, pinned to CPU 0:
# Streaming.Models via BenchmarkDotNet (with [MemoryDiagnoser]) and PyTorch (Debian python3-torch) via models_torch.py.
#
#   tools/bench/models.sh                   # PyTorch with Debian's default libblas (reference BLAS unless changed)
#   TORCH_OPENBLAS=1 tools/bench/models.sh  # also PyTorch with OpenBLAS (libopenblas0-pthread unpacked to /tmp, not installed)
#   ROUNDS=5 tools/bench/models.sh          # alternate the two sides 5 times (default 3)
#
# On a shared machine other load only ever adds time, so each side's figure is its best over all rounds;
# medians are printed for context.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d)
ROUNDS=${ROUNDS:-3}
BLAS_DIR=/tmp/openblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread

echo "machine: $(nproc) cpus, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build -c Release benchmarks/Streaming.Benchmarks >/dev/null
if [[ "${TORCH_OPENBLAS:-0}" == "1" && ! -f "$BLAS_DIR/libblas.so.3" ]]; then
    mkdir -p /tmp/openblas && (cd /tmp/openblas && apt-get download libopenblas0-pthread >/dev/null 2>&1 && dpkg-deb -x libopenblas0-pthread*.deb root)
fi

for round in $(seq 1 "$ROUNDS"); do
    # BenchmarkDotNet builds its runner from the project, so it runs from the project directory.
    (cd benchmarks/Streaming.Benchmarks && dotnet run -c Release --no-build -- \
        --filter '*LstmForecasterBenchmarks*' --warmupCount 5 --iterationCount 15 --affinity 1 --exporters json \
        --artifacts "$OUT/bdn-$round" >"$OUT/bdn-$round.log")
    grep -E '^\| ScoreWindows' "$OUT/bdn-$round.log" | sed "s/^/round $round: /"
    taskset -c 0 /usr/bin/python3 tools/bench/models_torch.py 5 >>"$OUT/torch.txt"
    if [[ "${TORCH_OPENBLAS:-0}" == "1" ]]; then
        OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH="$BLAS_DIR" taskset -c 0 /usr/bin/python3 tools/bench/models_torch.py 5 \
            | sed 's/^torch/torch+openblas/' >>"$OUT/torch.txt"
    fi
done

/usr/bin/python3 - "$OUT" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
best, medians, alloc = {}, {}, {}
def add(name, batch, best_us, median_us):
    best.setdefault(name, {}).setdefault(batch, []).append(best_us)
    medians.setdefault(name, {}).setdefault(batch, []).append(median_us)
for path in glob.glob(f"{out}/bdn-*/**/*LstmForecasterBenchmarks*-report-full*.json", recursive=True):
    for b in json.load(open(path))["Benchmarks"]:
        batch = int(b["Parameters"].split("=")[1])
        add("Streaming.Models", batch, b["Statistics"]["Min"] / 1e3, b["Statistics"]["Median"] / 1e3)
        alloc.setdefault(batch, set()).add(b["Memory"]["BytesAllocatedPerOperation"])
for line in open(f"{out}/torch.txt"):
    name, batch, _, best_us, median_us = line.split()
    add(name, int(batch), float(best_us), float(median_us))
names = list(best)
print()
print("| batch | " + " | ".join(f"{n} windows/s best (median)" for n in names)
      + " | Streaming.Models bytes allocated per batch | " + " | ".join(f"speed-up vs {n}" for n in names[1:]) + " |")
print("|---|" + "---|" * (2 * len(names)))
for batch in sorted(best[names[0]]):
    wps = lambda us: batch / (us / 1e6)
    ours = min(best[names[0]][batch])
    row = [str(batch)]
    row += [f"{wps(min(best[n][batch])):,.0f} ({wps(statistics.median(medians[n][batch])):,.0f})" for n in names]
    row += [" / ".join(f"{a} B" for a in sorted(alloc[batch]))]
    row += [f"{min(best[n][batch]) / ours:.1f}x" for n in names[1:]]
    print("| " + " | ".join(row) + " |")
print(f"\n{len(best[names[0]][1])} rounds; best = fastest round, median = median over rounds of each round's median.")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$OUT"
