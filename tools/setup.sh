#!/usr/bin/env bash
# Set up a checkout of auger: the one script behind the ./auger launcher and
# the test command (tools/test.sh).
#
#   tools/setup.sh          .venv with auger installed (editable) and, on
#                           Debian/Ubuntu as root, the system packages it needs
#   tools/setup.sh --test   also the test extras, bpftrace and gcc
#
# Each part runs again only when pyproject.toml is newer than its stamp file,
# so a set-up checkout costs two timestamp checks. The launcher sources this
# file and calls `auger_setup`.

auger_repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
auger_venv="$auger_repo/.venv"

_say() { echo "auger-setup: $*" >&2; }

_is_root_with_apt() { [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; }

_apt_updated=""
_apt_install() {
    if [[ -z "$_apt_updated" ]]; then
        _say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return
        _apt_updated=1
    fi
    _say "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# True when pyproject.toml changed since the stamp was made (or there is none).
_stale() { [[ "$auger_repo/pyproject.toml" -nt "$1" ]]; }

# python3 with venv and bcc's runtime library, which the back end loads
# with ctypes.
_setup_system() {
    local wanted=()
    command -v python3 >/dev/null || wanted+=(python3)
    # Debian ships venv's pip bootstrap (ensurepip) apart, in python3-venv.
    python3 -c 'import ensurepip, venv' 2>/dev/null || wanted+=(python3-venv)
    ldconfig -p 2>/dev/null | grep -q 'libbcc_bpf\.so\.0' || wanted+=(libbpfcc)
    ((${#wanted[@]})) || return 0
    if _is_root_with_apt; then
        _apt_install "${wanted[@]}"
    else
        _say "missing system packages: ${wanted[*]} (install them as root; only running programs needs libbpfcc)"
    fi
}

_setup_venv() {
    if [[ ! -x "$auger_venv/bin/python" ]]; then
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            _say "auger needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)"
            return 1
        }
        _say "creating $auger_venv"
        python3 -m venv "$auger_venv" || return
    fi
    _say "installing auger into $auger_venv"
    "$auger_venv/bin/python" -m pip install -q --disable-pip-version-check -e "$auger_repo" >&2 || return
    touch "$auger_venv/.auger-installed"
}

_setup_tests() {
    _say "installing the test extras"
    "$auger_venv/bin/python" -m pip install -q --disable-pip-version-check -e "$auger_repo[test]" >&2 || return
    # The differential and corpus tests compare auger with bpftrace itself;
    # the end-to-end tests build their traced programs with gcc.
    local tool
    for tool in bpftrace gcc; do
        command -v "$tool" >/dev/null && continue
        if _is_root_with_apt; then
            _apt_install "$tool" || return
        else
            _say "$tool is missing: the tests that need it will skip"
        fi
    done
    touch "$auger_venv/.auger-test-installed"
}

# auger_setup [--test]
auger_setup() {
    if [[ ! -x "$auger_venv/bin/python" ]] || _stale "$auger_venv/.auger-installed"; then
        _setup_system && _setup_venv || return
    fi
    if [[ "${1:-}" == "--test" ]] && _stale "$auger_venv/.auger-test-installed"; then
        _setup_tests || return
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    auger_setup "$@"
fi
