#!/usr/bin/env bash
# The course on a GPU in two prepared calls of the device tool (issue 24), each under its
# 10-minute limit, writing everything to one folder ($OUT there, --out here).
#
#   python3 tools/gpu_prepare.py                  # here, once: wheels and data to carry
#   bash tools/gpu_pass.sh measure                # call 1 (carry wheels + measure-data)
#   bash tools/gpu_pass.sh smoke                  # call 2 (carry wheels + smoke-data)
#   bash tools/gpu_pass.sh all --device cpu --quick --out /tmp/gpu-pass   # rehearsal, here
#
# measure, in order of value, each step under its own time limit (a step cut short keeps
# what it wrote, and the summary says so): the device and versions; benchmarks/speed.py
# (the timer against torch.utils.benchmark.Timer, every variant of chapter 8 with fp16,
# bf16, channels_last, torch.compile and CUDA graphs, the U-Net at batch 1 and 64);
# chapter 3's GPU recipe on CIFAR-10 (ResNet9 width 64, 18 epochs, target 94%, up to 3
# seeds while its time lasts); chapter 8 run for real (book/08-speed.ipynb, outputs saved).
# smoke: every book chapter and exercise master in fast mode, each with its time, then
# tests/test_gpu.py.
#
# --device cpu hides the GPU (CUDA_VISIBLE_DEVICES=""), --quick shrinks every step to a
# smoke test; --python names the interpreter (default: python3). Data come from
# build/gpu-carry/<stage>-data (made by gpu_prepare.py), laid out like ../shared/data's
# prepare.sh does; ISBI 2012 from the repository's own archive.
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

stage="${1:-}"
shift || true
device=cuda quick=0 out="${OUT:-$repo/build/gpu-pass}" python=python3
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --out) out="$2"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        *) echo "gpu_pass.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
case "$stage" in measure|smoke|all) ;; *)
    echo "gpu_pass.sh: expected a stage, measure, smoke or all; got '$stage'" >&2; exit 2 ;;
esac
case "$device" in cuda|cpu) ;; *)
    echo "gpu_pass.sh: --device: expected cuda or cpu, got '$device'" >&2; exit 2 ;;
esac
[ "$device" = cpu ] && export CUDA_VISIBLE_DEVICES=""
mkdir -p "$out"
log="$out/log.txt"
exec > >(tee -a "$log") 2>&1
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
began=$(date +%s)
summary="$out/summary.txt"
echo "gpu_pass.sh $stage, device $device, quick $quick, $(date -u '+%Y-%m-%d %H:%M UTC')" \
    >> "$summary"

# step NAME SECONDS COMMAND...: run under a time limit, record its status and seconds.
step() {
    local name="$1" limit="$2" start status
    shift 2
    echo; echo "=== $name (limit ${limit} s) ==="
    start=$(date +%s)
    timeout --kill-after=10 "$limit" "$@"
    status=$?
    local took=$(( $(date +%s) - start ))
    case $status in
        0) echo "$name: ok, $took s" >> "$summary" ;;
        124|137) echo "$name: CUT SHORT at its limit of $limit s" >> "$summary" ;;
        *) echo "$name: FAILED (exit $status), $took s" >> "$summary" ;;
    esac
    return 0
}

# --- the environment: packages the GPU machine lacks, the data, the versions -----------
site=/tmp/gpu-pass-site
if ! "$python" -c "import nbclient, ipykernel" 2>/dev/null; then
    if ! ls build/gpu-carry/wheels/*.whl >/dev/null 2>&1; then
        echo "gpu_pass.sh: nbclient/ipykernel are missing and build/gpu-carry/wheels is" \
             "empty: run tools/gpu_prepare.py here and carry build/gpu-carry/wheels" >&2
        exit 2
    fi
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" build/gpu-carry/wheels/*.whl || exit 2
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"    # coursekit from this checkout

data_for() {  # STAGE: lay out build/gpu-carry/STAGE-data as prepare.sh does, into $data
    local src="build/gpu-carry/$1-data"
    data=/tmp/gpu-pass-data/$1
    if [ ! -d "$src" ]; then
        echo "gpu_pass.sh: $src is missing: run tools/gpu_prepare.py and carry it" >&2
        exit 2
    fi
    mkdir -p "$data"
    for pair in mnist:MNIST fashion-mnist:FashionMNIST; do
        [ -d "$src/${pair%%:*}" ] || continue
        mkdir -p "$data/${pair##*:}/raw"
        for gz in "$src/${pair%%:*}"/*-ubyte.gz; do
            raw="$data/${pair##*:}/raw/$(basename "${gz%.gz}")"
            [ -s "$raw" ] || gunzip -c "$gz" > "$raw"
        done
    done
    [ -d "$data/cifar10-jpg" ] || tar -xzf "$src/cifar10-jpg.tar.gz" -C "$data"
    [ -d "$data/isbi2012-membrane" ] || tar -xzf datasets/isbi2012-membrane.tar.gz -C "$data"
    [ -f "$src/SUBSET.txt" ] && cat "$src/SUBSET.txt"
    export COURSEKIT_DATA="$data"
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
        --format=csv,noheader
    "$python" - <<'EOF'
import platform, torch, torchvision
from coursekit import setup
print(f"python {platform.python_version()}, torch {torch.__version__}, torchvision "
      f"{torchvision.__version__}, CUDA {torch.version.cuda}, cuDNN "
      f"{torch.backends.cudnn.version()}")
print(f"device: {setup.describe_device(setup.get_device())}, CPU threads "
      f"{torch.get_num_threads()}")
EOF
} | tee "$out/env.txt"
if [ "$device" = cuda ] && ! "$python" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_pass.sh: --device cuda, but torch sees no GPU here" >&2
    exit 2
fi

quick_flag=()
[ "$quick" = 1 ] && quick_flag=(--quick)

# --- measure ---------------------------------------------------------------------------
if [ "$stage" = measure ] || [ "$stage" = all ]; then
    data_for measure
    # The real pass writes where chapter 8 reads (benchmarks/results/, in this copy of the
    # checkout), then copies to $out; --quick writes to $out only, never over committed files.
    results=benchmarks/results
    [ "$quick" = 1 ] && results="$out"
    step "speed benchmark" $([ "$quick" = 1 ] && echo 300 || echo 200) \
        "$python" benchmarks/speed.py "${quick_flag[@]}" --out "$results/speed-$device.json"
    if [ "$quick" = 1 ]; then
        step "CIFAR-10 recipe (quick)" 300 "$python" benchmarks/classification.py --quick \
            --only cifar10 --cifar-width 8 --cifar-seeds 2
        step "chapter 8 (fast mode)" 600 "$python" tools/run_notebooks.py \
            --smoke "$out/chapter8-smoke.json" book/08-speed.ipynb
    else                                    # --only keeps the file's other runs
        step "CIFAR-10 GPU recipe" 170 "$python" benchmarks/classification.py --only cifar10 \
            --cifar-width 64 --cifar-epochs 18 --cifar-target 0.94 --cifar-seeds 3 \
            --time-budget 120 --out "$results/classification-$device.json"
        step "chapter 8 run for real" 170 "$python" tools/run_notebooks.py --timeout 150 \
            book/08-speed.ipynb
        cp book/08-speed.ipynb "$results/speed-$device.json" \
            "$results/classification-$device.json" "$out/" 2>/dev/null
    fi
fi

# --- smoke -----------------------------------------------------------------------------
if [ "$stage" = smoke ] || [ "$stage" = all ]; then
    data_for smoke
    step "every notebook in fast mode" $([ "$quick" = 1 ] && echo 1500 || echo 330) \
        "$python" tools/run_notebooks.py --timeout 300 --smoke "$out/smoke-$device.json" \
        book/[0-9]*.ipynb solutions/[0-9]*.ipynb
    step "tests/test_gpu.py" 60 env COURSEKIT_FAST=1 "$python" -m pytest -q -p no:cacheprovider \
        -o addopts="" tests/test_gpu.py
fi

echo "total: $(( $(date +%s) - began )) s" >> "$summary"
echo; cat "$summary"
