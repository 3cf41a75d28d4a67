#!/usr/bin/env bash
# The test command: set the checkout up (tools/setup.sh with the test extras
# and bpftrace) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/setup.sh"
auger_setup --test
cd "$auger_repo"
exec "$auger_venv/bin/python" -m pytest tests/ -q "$@"
