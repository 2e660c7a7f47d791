#!/usr/bin/env bash
# What minivae's GPU path must show, in one command of under 5 minutes on a machine with an
# NVIDIA GPU, CuPy and a CUDA build of PyTorch (short enough to run twice within 15 minutes
# on an H200 or H100):
#
#   0. versions  GPU, driver, CUDA, NVRTC, Python, NumPy, CuPy, PyTorch, and whether minivae
#                can run on the GPU (if not, the suite stops there, saying why)
#   1. tests     the cuda tests only (python -m pytest -m cuda): the fused kernels, every model's
#                step and every command on CuPy, no wait inside a step; the CPU tests run in CI
#   2. compare   benchmarks/speed/gpu_vs_cpu.py: every flow on the GPU against the CPU with the
#                same weights and noise (float32 within 1e-5 relative, or twice float32's own
#                error on a step where that is more, up to 1e-4; float64 within 1e-10)
#   3. speed     benchmarks/speed/speed.py --device cuda at batch 128 and 1024, against
#                PyTorch CUDA eager, side by side in one process
#   4. curve     benchmarks/reference/loss_curve.py --device cuda: 10 epochs against the
#                PyTorch reference band (needs MINIVAE_DATA_DIR)
#   (tf32        speed and curve again with --tf32: only when named)
#
# then a summary table. Usage, from the repository root:
#
#   MINIVAE_DATA_DIR=/path/to/mnist bash benchmarks/speed/gpu_suite.sh [tests] [compare] [speed] [curve] [tf32]
#
# (no part named: the first four). Without MINIVAE_DATA_DIR the tests that need real MNIST
# skip, speed.py times synthetic data of MNIST's shape, and the loss curve is not run.
# Results go to $OUT if it is set, else runs/gpu-suite/: suite.log (all output), compare.json,
# speed.json, curve.csv, curve.png, summary.txt, and cupy-cache.tar.gz.
#
# CuPy compiles every kernel at its first use (NVRTC, a second or so each: a minute for the
# suite). The compiled kernels are kept: the suite ends by packing CuPy's kernel cache into
# $RESULTS/cupy-cache.tar.gz, and starts by unpacking .cupy-cache.tar.gz from the repository
# root (or $CUPY_CACHE_ARCHIVE) when there is one: put the last run's archive there (both
# paths are git-ignored) and the next run compiles nothing it has compiled before.
#
# The whole run is kept under SUITE_SECONDS (default 280): each part gets what is left, up to
# its own cap, and is stopped (and reported) when that runs out.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RESULTS=${OUT:-$ROOT/runs/gpu-suite}
mkdir -p "$RESULTS"
(cd "$RESULTS" && rm -f suite.log summary.txt compare.json speed.json speed_tf32.json curve.csv \
  curve_tf32.csv curve.png curve_tf32.png cupy-cache.tar.gz)    # no stale result of an earlier run
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export JAX_PLATFORMS=cpu          # JAX, if a benchmark imports it, would take 75% of the GPU's memory
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-$ROOT/.cupy-cache}
ARCHIVE=${CUPY_CACHE_ARCHIVE:-$ROOT/.cupy-cache.tar.gz}
PY=${PYTHON:-python3}
BUDGET=${SUITE_SECONDS:-280}
PARTS=${*:-tests compare speed curve}
LOG=$RESULTS/suite.log
: >"$LOG"
declare -A STATUS TOOK

say() { echo "$@" | tee -a "$LOG"; }

# run NAME CAP COMMAND...: run with at most CAP seconds (less if the budget is short)
run() {
  local name=$1 cap=$2; shift 2
  local left=$((BUDGET - SECONDS))
  local limit=$((cap < left ? cap : left))
  if ((limit < 15)); then
    say "== $name: skipped, only ${left}s of the suite's ${BUDGET}s left"
    STATUS[$name]="skipped (time)"; TOOK[$name]=0
    return
  fi
  say "== $name (at most ${limit}s): $*"
  local start=$SECONDS
  timeout --signal=INT --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  TOOK[$name]=$((SECONDS - start))
  case $rc in
    0) STATUS[$name]="ok" ;;
    124|137) STATUS[$name]="TIMED OUT after ${limit}s" ;;
    *) STATUS[$name]="FAILED (exit $rc)" ;;
  esac
  say "== $name: ${STATUS[$name]} in ${TOOK[$name]}s"
}

for part in $PARTS; do
  case $part in tests|compare|speed|curve|tf32) ;;
    *) say "unknown part '$part' (expected tests, compare, speed, curve or tf32)"; exit 2 ;; esac
done

say "# minivae GPU suite, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$LOG"
$PY - <<'EOF' 2>&1 | tee -a "$LOG"
import platform, numpy
print(f"python {platform.python_version()}, numpy {numpy.__version__}", end="")
for name in ("cupy", "torch"):
    try:
        module = __import__(name)
        print(f", {name} {module.__version__}", end="")
    except Exception as e:
        print(f", {name}: not importable ({e})", end="")
print()
try:
    import cupy, torch
    rt = cupy.cuda.runtime
    print(f"CUDA runtime {rt.runtimeGetVersion()}, driver {rt.driverGetVersion()}, "
          f"NVRTC {'.'.join(map(str, cupy.cuda.nvrtc.getVersion()))}, "
          f"compute capability {cupy.cuda.Device(0).compute_capability}, torch CUDA {torch.version.cuda}")
except Exception as e:
    print(f"CUDA versions: not readable ({e!r})")
from minivae.backend import cuda_problem
print("minivae can run on the GPU:", cuda_problem() or "yes")
EOF
if ! $PY -c "from minivae.backend import cuda_available; raise SystemExit(not cuda_available())"; then
  say "== stopped: minivae cannot run on this GPU (the line above says why)"
  exit 1
fi
mkdir -p "$CUPY_CACHE_DIR"
if [ -f "$ARCHIVE" ] && tar -xzf "$ARCHIVE" -C "$CUPY_CACHE_DIR" 2>>"$LOG"; then
  say "CuPy kernel cache: $(find "$CUPY_CACHE_DIR" -type f | wc -l) compiled kernels from $ARCHIVE"
else
  say "CuPy kernel cache: none brought back (no $ARCHIVE): every kernel compiles at its first use"
fi
DATA=${MINIVAE_DATA_DIR:-}
say "MINIVAE_DATA_DIR=${DATA:-'(unset: synthetic data for speed.py, no loss curve)'}"

curve() {   # curve NAME [--tf32]
  if [ -z "$DATA" ]; then
    say "== $1: skipped (set MINIVAE_DATA_DIR to real MNIST)"
    STATUS[$1]="skipped (no MNIST)"; TOOK[$1]=0
  else
    local tag=${1#curve}
    run "$1" 60 $PY benchmarks/reference/loss_curve.py --device cuda ${2:-} --data-dir "$DATA" \
      --csv "$RESULTS/curve$tag.csv" --png "$RESULTS/curve$tag.png"
  fi
}
for part in $PARTS; do
  case $part in
    tests) run tests 100 $PY -m pytest -m cuda -q -p no:cacheprovider --durations=10 ;;
    compare) run compare 45 $PY benchmarks/speed/gpu_vs_cpu.py --json "$RESULTS/compare.json" ;;
    speed) run speed 75 $PY benchmarks/speed/speed.py --device cuda --batch-size 128,1024 \
             --json "$RESULTS/speed.json" ;;
    curve) curve curve ;;
    tf32) run speed_tf32 75 $PY benchmarks/speed/speed.py --device cuda --batch-size 128,1024 \
            --tf32 --json "$RESULTS/speed_tf32.json"
          curve curve_tf32 --tf32 ;;
  esac
done
if tar -czf "$RESULTS/cupy-cache.tar.gz" -C "$CUPY_CACHE_DIR" . 2>>"$LOG"; then
  say "CuPy kernel cache kept: $RESULTS/cupy-cache.tar.gz ($(find "$CUPY_CACHE_DIR" -type f | wc -l) kernels); put it at $ARCHIVE for the next run"
fi

# -- summary ----------------------------------------------------------------------
{
  echo
  echo "# summary (${SECONDS}s in all)"
  for name in tests compare speed curve speed_tf32 curve_tf32; do
    [ -n "${STATUS[$name]:-}" ] && printf '%-11s %-28s %5ss\n' "$name" "${STATUS[$name]}" "${TOOK[$name]}"
  done
  grep -E "^[0-9]+ (passed|failed).* in [0-9.]+s" "$LOG" | tail -1 | sed 's/^/tests: /'
  grep -E "within tolerance" "$LOG" | tail -1 | sed 's/^/GPU against CPU: /'
  grep -E "checks inside the band" "$LOG" | sed 's/^/loss curve: /'
  $PY - "$RESULTS" <<'EOF'
import csv, json, os, sys
results = sys.argv[1]
for tag in ("", "_tf32"):
    path = os.path.join(results, f"speed{tag}.json")
    if not os.path.exists(path):
        continue
    data = json.load(open(path))
    cuda = data["info"].get("cuda", {})
    print(f"\nspeed.py, TF32 {'on' if tag else 'off'} ({cuda.get('gpu', '?')}), s/epoch "
          "(GPU ms/step with the host's time taken out; kernels per step)")
    print(f"{'batch':>5s} {'minivae':>16s} {'unfused':>16s} {'PyTorch':>16s} {'GEMMs':>7s} "
          f"{'vs torch':>8s}")
    for row in data["results"]:
        med, floors = row["median_s"], row.get("floors", {})

        def cell(name):
            side = floors.get(name, {}) if isinstance(floors, dict) else {}
            dev = side.get("device_ms_per_step")
            kernels = (side.get("launches") or {}).get("kernels")
            extra = "" if dev is None else f" ({dev:.2f};{kernels:.0f})" if kernels else f" ({dev:.2f})"
            return f"{med[name]:.3f}{extra}"
        print(f"{row['batch_size']:5d} {cell('minivae'):>16s} {cell('unfused'):>16s} "
              f"{cell('torch'):>16s} {med['floor']:7.3f} {row['ratio_to_torch']:7.2f}x")
for tag in ("", "_tf32"):
    path = os.path.join(results, f"curve{tag}.csv")
    if os.path.exists(path):
        rows = list(csv.DictReader(open(path)))
        last = rows[-1]
        print(f"loss curve, TF32 {'on' if tag else 'off'}: epoch {last['epoch']} train "
              f"{float(last['train_loss']):.3f} test {float(last['test_loss']):.3f}, "
              f"{sum(float(r['seconds']) for r in rows) / len(rows):.2f} s per epoch of training")
EOF
} 2>&1 | tee -a "$LOG" | tee "$RESULTS/summary.txt"

for name in "${!STATUS[@]}"; do
  case ${STATUS[$name]} in ok|skipped*) ;; *) exit 1 ;; esac
done
exit 0
