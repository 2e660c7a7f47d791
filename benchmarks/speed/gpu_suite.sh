#!/usr/bin/env bash
# Everything minivae's GPU path must show, in one command on a machine with an
# NVIDIA GPU, CuPy and a CUDA build of PyTorch:
#
#   0. versions: GPU, driver, CUDA, NVRTC, Python, NumPy, CuPy, PyTorch, and
#      whether minivae can run on the GPU (if not, the suite stops there, saying why)
#   1. tests   the whole test suite (its "cuda" cases run: the fused kernels,
#              the float64 gradient checks on the GPU, no waiting inside a step)
#   2. speed   benchmarks/speed/speed.py --device cuda at batch 128 and 1024, TF32 off
#   3. curve   benchmarks/reference/loss_curve.py --device cuda, 10 epochs, TF32 off
#   4. speed and curve again with TF32 on (last: what is cut first when time runs short)
#
# then a summary table. Usage, from the repository root:
#
#   MINIVAE_DATA_DIR=/path/to/mnist bash benchmarks/speed/gpu_suite.sh [tests] [speed] [curve]
#
# (no part named: all three). Without MINIVAE_DATA_DIR the tests that need
# real MNIST skip, speed.py times synthetic data of MNIST's shape, and the
# loss curve is not run (MNIST's four .gz files, 11 MB, can travel with the
# repository). Results go to $OUT if it is set, else runs/gpu-suite/:
# suite.log (all output), speed.json, speed_tf32.json, curve.csv,
# curve_tf32.csv, curve.png, curve_tf32.png, summary.txt. The whole run is
# kept under SUITE_SECONDS (default 470, under 8 minutes): each part gets what
# is left, up to its own cap, and is stopped (and reported) when that runs out.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RESULTS=${OUT:-$ROOT/runs/gpu-suite}
mkdir -p "$RESULTS"
(cd "$RESULTS" && rm -f suite.log summary.txt speed.json speed_tf32.json curve.csv curve_tf32.csv \
  curve.png curve_tf32.png)    # no stale result from an earlier run
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
BUDGET=${SUITE_SECONDS:-470}
PARTS=${*:-tests speed curve}
LOG=$RESULTS/suite.log
: >"$LOG"
declare -A STATUS TOOK

say() { echo "$@" | tee -a "$LOG"; }

# run NAME CAP COMMAND...: run with at most CAP seconds (less if the budget is short)
run() {
  local name=$1 cap=$2; shift 2
  local left=$((BUDGET - SECONDS))
  local limit=$((cap < left ? cap : left))
  if ((limit < 20)); then
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
DATA=${MINIVAE_DATA_DIR:-}
say "MINIVAE_DATA_DIR=${DATA:-'(unset: synthetic data for speed.py, no loss curve)'}"

for part in $PARTS; do
  case $part in tests|speed|curve) ;; *) say "unknown part '$part' (expected tests, speed or curve)"; exit 2 ;; esac
done
# TF32 off first, every part; then TF32 on (tag _tf32), so that a short budget cuts those first.
for tf32 in "" --tf32; do
  tag=${tf32:+_tf32}
  for part in $PARTS; do
    case $part in
      tests)
        if [ -z "$tf32" ]; then run tests 300 $PY -m pytest -q -p no:cacheprovider --durations=15; fi ;;
      speed)
        run "speed$tag" 80 $PY benchmarks/speed/speed.py --device cuda --batch-size 128,1024 $tf32 \
          --json "$RESULTS/speed$tag.json" ;;
      curve)
        if [ -z "$DATA" ]; then
          say "== curve$tag: skipped (set MINIVAE_DATA_DIR to real MNIST)"
          STATUS[curve$tag]="skipped (no MNIST)"; TOOK[curve$tag]=0
        else
          run "curve$tag" 60 $PY benchmarks/reference/loss_curve.py --device cuda $tf32 --data-dir "$DATA" \
            --csv "$RESULTS/curve$tag.csv" --png "$RESULTS/curve$tag.png"
        fi ;;
    esac
  done
done

# -- summary ----------------------------------------------------------------------
{
  echo
  echo "# summary (${SECONDS}s in all)"
  for name in tests speed curve speed_tf32 curve_tf32; do
    [ -n "${STATUS[$name]:-}" ] && printf '%-11s %-28s %5ss\n' "$name" "${STATUS[$name]}" "${TOOK[$name]}"
  done
  grep -E "^[0-9]+ (passed|failed).* in [0-9.]+s" "$LOG" | tail -1 | sed 's/^/tests: /'
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
