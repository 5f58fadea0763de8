#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, in the asan-ubsan preset: clang with
# AddressSanitizer and UBSan) into build/asan-ubsan and runs each one on a temporary
# copy of its seed corpus (tests/fuzz/corpus/<target>/ is never written).
# Prints one line per target (executions, exec/s, result); exits 1 when any
# target found a crash, hang, leak or oversized allocation, whose input is
# kept under the work directory it names.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [--runs=N] [--seed=S] [--build-only] [TARGET...]
#   SECONDS_PER_TARGET  default 60; 0 runs each corpus input once and stops
#   --runs=N            stop each target after N executions instead of a time
#   --seed=S            libFuzzer's random seed (default: from the clock). With
#                       --runs and a fresh work directory a run repeats exactly
#                       for one build, so CI (scripts/test.sh) uses both: a time
#                       budget would tie CI's result to the host's speed, and a
#                       clock seed to luck. Long campaigns use neither.
#   TARGET              e.g. fuzz_bleu (default: every tests/fuzz/fuzz_*.cpp)
# Environment: TFM_FUZZ_WORK=DIR keeps the corpora grown, the logs and any
# artifacts in DIR (reused by the next run); TFM_FUZZ_JOBS (default 2) build
# jobs; TFM_FUZZ_PARALLEL (default 2) targets run at once.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=
seed=
build_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1 ;;
    --runs=*) runs=${arg#--runs=} ;;
    --seed=*) seed=${arg#--seed=} ;;
    -*) echo "error: unknown option '$arg' (see the usage at the top of $0)" >&2; exit 2 ;;
    ''|*[!0-9]*) targets+=("$arg") ;;
    *) seconds="$arg" ;;
  esac
done
for n in "$runs" "$seed"; do
  [[ -z "$n" || "$n" =~ ^[0-9]+$ ]] || { echo "error: --runs and --seed take a non-negative integer, found '$n'" >&2; exit 2; }
done
if ((${#targets[@]} == 0)); then
  for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi

build=build/asan-ubsan
mkdir -p "$build"
if ! cmake --preset asan-ubsan >"$build/fuzz-configure.log" 2>&1; then
  cat "$build/fuzz-configure.log" >&2
  exit 2
fi
if ! cmake --build "$build" --target fuzzers -j"${TFM_FUZZ_JOBS:-2}" >"$build/fuzz-build.log" 2>&1; then
  tail -40 "$build/fuzz-build.log" >&2
  echo "error: building the fuzz targets failed ($build/fuzz-build.log)" >&2
  exit 2
fi
((build_only)) && exit 0

work="${TFM_FUZZ_WORK:-}"
if [[ -z "$work" ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/tfm-fuzz.XXXXXX")
  keep_work=0
else
  mkdir -p "$work"
  keep_work=1
fi
# The targets write each input to a file there (the readers take paths): memory,
# when the machine has it. Each target gets its own fixed-named subdirectory
# (tests/fuzz/fuzz.h), so a seeded run sees the same paths every time.
if [[ -d /dev/shm && -w /dev/shm ]]; then
  scratch=$(mktemp -d /dev/shm/tfm-fuzz.XXXXXX)
else
  scratch="$work/scratch"
  mkdir -p "$scratch"
fi
trap 'rm -rf "$scratch"' EXIT
# One thread (the OpenMP runtime reads this when it loads); leaks and UB end the run.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Runs one target; writes its result line to $work/NAME.result.
run_target() {
  local t=$1 exe="$build/tests/fuzz/$1" name=${1#fuzz_}
  local corpus="$work/corpus/$name" log="$work/$name.log"
  mkdir -p "$corpus" "$work/artifacts/$name"
  cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  # Over 2 GiB of memory, or one allocation over 2 GiB, is a finding: hostile
  # sizes must end in tfm::Error. A single input running 20 s is a hang.
  local common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20 -print_final_stats=1
                -artifact_prefix="$work/artifacts/$name/")
  local run=(-max_total_time="$seconds")
  ((seconds == 0)) && run=(-runs=0)
  [[ -n "$runs" ]] && run=(-runs="$runs")
  [[ -n "$seed" ]] && run+=(-seed="$seed" -reload=0)
  local rc=0 result
  TFM_FUZZ_SCRATCH="$scratch/$name" "${fixed_layout[@]}" "$exe" "${common[@]}" "${run[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  local runs speed
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if ((rc == 0)); then
    result=ok
  else
    local kind artifact
    kind=$(grep -m1 -oE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z -]+|runtime error: .*|terminate called .*|out-of-memory.*|timeout after.*" "$log" || echo "exit $rc")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    result="FAILED: $kind${artifact:+ (input: $artifact)} (log: $log)"
  fi
  printf '%-20s runs %-10s exec/s %-7s %s\n' "$t" "${runs:-?}" "${speed:-?}" "$result" >"$work/$name.result"
}

for t in "${targets[@]}"; do
  [[ -x "$build/tests/fuzz/$t" ]] || { echo "error: no fuzz target $build/tests/fuzz/$t" >&2; exit 2; }
done
# A seeded run repeats only with the same addresses: libFuzzer feeds the values
# of comparisons back into its mutations, and some compare pointers. Address
# space randomisation is off for it where the machine allows (not in every
# container).
fixed_layout=()
if [[ -n "$seed" ]]; then
  if setarch -R true 2>/dev/null; then
    fixed_layout=(setarch -R)
  else
    echo "fuzz: note: cannot turn off address randomisation here (setarch -R), so the seeded run may differ between runs" >&2
  fi
fi
# TFM_FUZZ_PARALLEL targets at a time (default 2, one per core).
parallel=${TFM_FUZZ_PARALLEL:-2}
running=0
for t in "${targets[@]}"; do
  if ((running >= parallel)); then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait || true
failed=0
for t in "${targets[@]}"; do
  line=$(cat "$work/${t#fuzz_}.result" 2>/dev/null || echo "$t: no result")
  echo "$line"
  [[ "$line" == *" ok" ]] || failed=1
done

if ((failed)); then
  echo "fuzz: findings above; inputs and logs kept in $work" >&2
  exit 1
fi
((keep_work)) || rm -rf "$work"
