#!/usr/bin/env bash
# Installs a stand-in for ansible-test's get-pip bootstrap script where ansible-test looks
# for a cached copy (~/.ansible/test/cache/get_pip_<version>.py): this machine cannot reach
# the host ansible-test downloads it from. The stand-in (tests/sanity/get_pip_standin.py)
# runs ensurepip, then `pip install` with ansible-test's arguments under this machine's own
# pip configuration. Idempotent: rewrites a cached file only when it differs.
#   tests/sanity/setup-get-pip.sh            (venv: $LVS_VENV, default /opt/lvs-venv)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${LVS_VENV:-/opt/lvs-venv}
standin=$here/get_pip_standin.py
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"

# The pip version(s) the installed ansible-test bootstraps (2.19: 24.2), plus later ones
# a newer ansible-test may ask for.
wanted=$("$venv/bin/python" - <<'EOF' 2>/dev/null || true
import os, re
import ansible_test
path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(path) as f:
    print(' '.join(v.replace('.', '_') for v in re.findall(r"""pip=['"]([0-9.]+)['"]""", f.read())))
EOF
)
for v in $wanted 24_2 25_0 25_1 25_2 25_3; do
    dest=$cache/get_pip_$v.py
    cmp -s "$standin" "$dest" 2>/dev/null && continue
    cp "$standin" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
    echo "setup-get-pip: installed $dest"
done
rm -f "$cache"/get_pip_*.py.download   # leftovers of failed downloads
