#!/usr/bin/env bash
# Shows that installing the course package next to an existing torch/torchvision (as in
# Colab) leaves them as they are. Makes a fresh virtual environment with this machine's
# Python, installs a torch + torchvision pair first (default: Colab's, from
# tools/colab_versions.txt), then the course package, and compares their versions before
# and after. Needs PyPI; takes a few minutes. On Colab's own Python and its whole stack:
# tools/colab_replica.py dry-run / run.
#   usage: tools/check_colab_install.sh [TORCH_VERSION TORCHVISION_VERSION]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
colab_pin() { sed -n "s/^$1==//p" "$repo/tools/colab_versions.txt"; }
torch_version="${1:-$(colab_pin torch)}"
torchvision_version="${2:-$(colab_pin torchvision)}"
echo "torch $torch_version and torchvision $torchvision_version first, then the course"
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
