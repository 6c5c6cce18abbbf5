#!/usr/bin/env bash
# Install everything mallee needs on a Debian 12 machine: system packages and a virtualenv.
# Idempotent: a second run installs nothing new. Run as root (or with passwordless sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages, from Debian. Keep this list the one place they are named.
APT_PACKAGES=(
  python3 python3-venv python3-dev gcc make
  postgresql postgresql-contrib
  iproute2 procps ca-certificates util-linux
  wrk
  s3cmd rclone  # S3 clients the e2e suite drives against the object storage gateway
  # node: QEMU (TCG), the data plane, and what the default image is built from
  qemu-system-x86 qemu-system-data qemu-utils dnsmasq-base dnsmasq-utils iptables ebtables
  busybox-static dropbear-bin e2fsprogs openssh-client curl iputils-arping
  lz4  # decompresses the Debian kernel's bzImage to the vmlinux the default image boots
  mmdebstrap  # builds the Debian cloud image (`mallee image build-debian`) from deb.debian.org
  # storage: the ceph-rbd volume backend (QEMU's rbd driver) and the one-node Ceph the tests start
  ceph-mon ceph-mgr ceph-osd ceph-common radosgw qemu-block-extra
  haproxy  # elastic load balancing: one HAProxy per load balancer per zone, in a namespace
  chromium chromium-driver  # the web console's browser tests (tests/browser/), headless
)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python 3.11: the machine's python3 when it is 3.11, else Debian's.
PY=python3
if ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  PY=/usr/bin/python3.11
fi

# Python packages: exactly what uv.lock names, with its hashes, and nothing else (the lock is
# refreshed on purpose with scripts/lock.sh). uv itself is in the lock: a first run installs that
# uv, by the lock's hashes, into a throw-away venv, which then makes .venv from the lock.
export UV_PYTHON_DOWNLOADS=never UV_PYTHON="$PY"
uv=.venv/bin/uv
if ! .venv/bin/uv --version >/dev/null 2>&1; then
  boot=$(mktemp -d /tmp/mallee-uv.XXXXXX)
  trap 'rm -rf "$boot"' EXIT
  "$PY" -m venv "$boot"
  "$PY" scripts/uv_requirement.py >"$boot/uv.txt"
  "$boot/bin/python" -m pip install -q --no-deps --require-hashes -r "$boot/uv.txt"
  uv="$boot/bin/uv"
  [ -d .venv ] || "$uv" venv -q .venv
fi
if ! "$uv" lock --check --offline >/dev/null 2>&1; then
  echo "setup: pyproject.toml and uv.lock disagree; run scripts/lock.sh and commit uv.lock" >&2
  "$uv" lock --check --offline >&2 || true
  exit 1
fi
"$uv" sync --locked -q

# htmx, the console's partial page updates, from the npm registry: the pinned release, checked
# against its hash. The console works without it (plain forms and links), only without polling.
HTMX_VERSION=2.0.11
HTMX_SHA256=d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717
htmx=src/mallee/console/static/vendor/htmx.min.js
if ! echo "$HTMX_SHA256  $htmx" | sha256sum -c --quiet >/dev/null 2>&1; then
  pack=$(mktemp -d /tmp/mallee-htmx.XXXXXX)
  # The registry's tarball itself (what `npm pack` fetches), so no npm is needed.
  curl -fsSL -o "$pack/htmx.org-$HTMX_VERSION.tgz" \
    "https://registry.npmjs.org/htmx.org/-/htmx.org-$HTMX_VERSION.tgz"
  tar -xzf "$pack/htmx.org-$HTMX_VERSION.tgz" -C "$pack" package/dist/htmx.min.js
  echo "$HTMX_SHA256  $pack/package/dist/htmx.min.js" | sha256sum -c --quiet
  install -D -m 644 "$pack/package/dist/htmx.min.js" "$htmx"
  rm -rf "$pack"
fi

# The default instance image (kernel, initramfs, root disk) from Debian packages; cached.
.venv/bin/python -m mallee.images build-default >/dev/null
echo "setup: done"
