#!/usr/bin/env bash
# Shows that installing the course package next to an existing torch/torchvision (as in
# Colab) leaves them as they are. Makes a fresh virtual environment, installs an older
# torch + torchvision pair first (as Colab would have), then the course package, and
# compares their versions before and after. Needs PyPI; takes a few minutes.
#   usage: tools/check_colab_install.sh [TORCH_VERSION TORCHVISION_VERSION]
set -euo pipefail
torch_version="${1:-2.5.1}"
torchvision_version="${2:-0.20.1}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$(mktemp -d)/colab-like"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "torch==$torch_version" "torchvision==$torchvision_version"
before="$("$venv/bin/python" -m pip freeze | grep -E '^(torch|torchvision)==' | sort)"
"$venv/bin/python" -m pip install --quiet "$repo"
after="$("$venv/bin/python" -m pip freeze | grep -E '^(torch|torchvision)==' | sort)"
echo "before installing the course: $(echo $before)"
echo "after installing the course:  $(echo $after)"
"$venv/bin/python" -c "import coursekit, torch; print('coursekit', coursekit.__version__, 'imports with torch', torch.__version__)"
rm -rf "$(dirname "$venv")"
if [ "$before" != "$after" ]; then echo "FAIL: torch/torchvision changed"; exit 1; fi
echo "OK: torch and torchvision unchanged"
