# Shared shell helpers for scripts/ (sourced, not run).
# One line on stderr, then the exit code of labmatrix/errors.py: fail CODE MESSAGE...
# (1 a failed run, 2 bad input, 3 a missing environment); die is fail 1.
fail() { local code=$1; shift; echo "$(basename "$0"): $*" >&2; exit "$code"; }
die() { fail 1 "$@"; }

need_daemon() {
  command -v docker >/dev/null 2>&1 || fail 3 "docker is not installed; install Docker (Docker Desktop on macOS/Windows) and try again"
  docker info >/dev/null 2>&1 || fail 3 "no Docker daemon answers; start Docker (on Linux: 'sudo systemctl start docker' or 'sudo dockerd &') and try again"
}

need_docker() {
  need_daemon
  docker compose version >/dev/null 2>&1 || fail 3 "'docker compose' (Compose v2) is missing; install the docker-compose-plugin (or Debian's docker-compose >= 2) and try again"
}

# matrix.toml, read through Python (labmatrix/matrix.py, stdlib only):
#   matrix_values KEY   one value per image, in file order (e.g. matrix_values suite)
#   matrix_mirror       the Debian mirror
# A bad matrix.toml is the one line labmatrix.matrix printed (exit 2); an old host Python, this one.
matrix_read() {
  python3 -m labmatrix.matrix "$@" && return
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || fail 3 "cannot read matrix.toml; Python >= 3.11 is needed on the host"
  exit 2
}
matrix_values() { matrix_read values "$1"; }
matrix_mirror() { matrix_read mirror; }
image_names() { matrix_values name; }

check_images() {
  local known name
  known=$(image_names | tr '\n' ' ')
  for name in "$@"; do
    case " $known " in *" ${name:-''} "*) ;; *) fail 2 "unknown image '$name'; valid: ${known% }" ;; esac  # '' is no name
  done
}

# --digests FILE (scripts/lab, scripts/test: run exactly the images a report ran): sets
# $digests ('' if not given) and $pass, the other arguments.
take_digests() {
  digests="" pass=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --digests) [ $# -ge 2 ] || die "--digests needs a file: --digests results/matrix.json"; digests=$2; shift 2 ;;
      --digests=*) digests=${1#--digests=}; shift ;;
      *) pass+=("$1"); shift ;;
    esac
  done
}

sha() {
  # A short content hash of a file (macOS has shasum, not sha256sum).
  if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -c1-16
}

venv_python() {
  # The dev virtualenv from requirements/dev.txt (pinned, hashed), made once.
  local venv=.venv stamp
  stamp="$venv/.dev-$(sha requirements/dev.txt)"
  if [ ! -f "$stamp" ]; then
    echo "$(basename "$0"): setting up $venv from requirements/dev.txt" >&2
    python3 -m venv "$venv" >/dev/null || die "python3 -m venv failed; install python3-venv (Python >= 3.11) and try again"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt >&2 \
      || die "installing requirements/dev.txt failed (see above)"
    touch "$stamp"
  fi
  echo "$venv/bin/python"
}
