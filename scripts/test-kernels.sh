#!/bin/sh
# npm run test:kernels — vnetlab's real-UML tests against the UML kernels of newer Debian suites.
#
# Newer linux.uml builds need their suite's C library, so they run inside a root of that suite:
#   trixie  (Debian 13, UML 6.12: vector VDE transport only, the old one is not built)
#   sid     (UML 7.x: no old transports at all)
# Each root is made once with mmdebstrap (cached in $VNETLAB_KERNEL_ROOTS, default
# ~/.cache/vnetlab/kernel-roots/<suite>, ~650 MB each) with the suite's user-mode-linux, vde2, vdeplug,
# uml-utilities, e2fsprogs, busybox-static, debootstrap and a C compiler; this checkout is bind-mounted at
# the same path and the tests run with the host's node (so node_modules' native parts match). The images
# (tiny, and debian: bookworm + FRR, with this kernel's modules) are built inside the root for its kernel
# before the tests (its own ~/.cache, kept between runs: once ~2 minutes, then nothing while up to date).
#
# Usage (as root: chroot and mounts):
#   sudo npm run test:kernels                              # every suite, the default test files
#   sudo npm run test:kernels -- sid                       # one suite
#   sudo npm run test:kernels -- trixie test/kernels       # one suite, some test files (vitest filters)
# Environment: VNETLAB_KERNEL_SUITES ("trixie sid"), VNETLAB_KERNEL_ROOTS, VNETLAB_DEBIAN_MIRROR;
# VNETLAB_UML_XSTATE_FIX and VNETLAB_UML_NORANDMAPS are passed to the tests in the roots; VNETLAB_CORPUS
# (default ../shared/corpus beside the checkout) is the lab corpus the corpus tests read (test/support/corpus.ts):
# mounted into the roots when it is there (then those tests must pass), else they skip and say where to get it.
# Host packages: as root, the missing ones are installed; otherwise ONE `sudo apt-get install -y …` line names
# them all, and the run stops (exit 3) — as bin/setup.mjs does for `npm test`.
# Exit codes: 0 all passed, 1 a test failed, 3 environment (not root, a package missing, a root that cannot be made).
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOTS=${VNETLAB_KERNEL_ROOTS:-${HOME:-/root}/.cache/vnetlab/kernel-roots}
MIRROR=${VNETLAB_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PACKAGES=user-mode-linux,vde2,vdeplug,uml-utilities,e2fsprogs,busybox-static,gcc,libc6-dev,libstdc++6,util-linux,kmod,procps,iproute2,ca-certificates,debootstrap
# The real-UML tests of the network, the images, the runtime and the checks, the shipped labs (two-hosts
# and static-routing on tiny, ospf with FRR on debian), the Netkit/Kathará labs of test/fixtures and the
# corpus labs (Kathará and Netkit, on debian).
DEFAULT_TESTS="test/kernels test/images/tiny.test.ts test/images/debian.test.ts test/images/guest-compat.test.ts test/runtime/two-hosts.test.ts test/runtime/pool.test.ts test/runtime/cables.test.ts test/runtime/host-nat.test.ts test/check/static-routing.test.ts test/check/fail-fast.test.ts test/check/batch.test.ts test/check/cli.test.ts test/lab/shipped-labs.test.ts test/runtime/netkit-kathara.test.ts test/runtime/corpus.test.ts test/runtime/corpus-compat.test.ts test/check/ltest.test.ts"

fail_env() { echo "test:kernels: $1" >&2; [ -n "${2:-}" ] && echo "  hint: $2" >&2; exit 3; }

SUITES=
while [ $# -gt 0 ]; do
  case "$1" in
    trixie|sid|forky|testing|unstable) SUITES="$SUITES $1"; shift ;;
    *) break ;;
  esac
done
SUITES=${SUITES:-${VNETLAB_KERNEL_SUITES:-trixie sid}}
TESTS=${*:-$DEFAULT_TESTS}

# Host packages, and the commands that prove they are installed (everything else runs inside the roots).
HOST_PACKAGES="mmdebstrap:mmdebstrap util-linux:unshare"
missing=
for entry in $HOST_PACKAGES; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${entry#*:}" > /dev/null || missing="$missing ${entry%%:*}"
done
missing=${missing# }
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test:kernels: installing Debian packages: $missing" >&2
    # shellcheck disable=SC2086
    { DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } >&2 \
      || fail_env "could not install $missing" "apt-get update && apt-get install -y $missing"
  else
    echo "test:kernels: missing Debian packages: $missing (mmdebstrap makes the suite roots); install them with this one command, then run it again as root:" >&2
    echo "sudo apt-get install -y $missing" >&2
    exit 3
  fi
fi
[ "$(id -u)" = 0 ] || fail_env "needs root: the newer kernels run in a chroot of their Debian suite (and mounts /proc, /sys, /dev there)" 'run: sudo env "PATH=$PATH" npm run test:kernels'
NODE=$(command -v node) || fail_env "node is not in PATH"

# The lab corpus (test/support/corpus.ts), at the same path inside the roots.
CORPUS=$(cd "$REPO" && realpath -m "${VNETLAB_CORPUS:-../shared/corpus}")
if [ -d "$CORPUS/kathara-labs" ] && [ -d "$CORPUS/netkit-labs" ]; then
  :
elif [ -n "${VNETLAB_CORPUS:-}" ]; then
  fail_env "VNETLAB_CORPUS=$VNETLAB_CORPUS is not a lab corpus (no kathara-labs/ and netkit-labs/ in $CORPUS)" "unset it to skip the corpus tests, or point it at the corpus"
else
  echo "test:kernels: no lab corpus at $CORPUS: the corpus tests skip (put it there, or set VNETLAB_CORPUS; see test/support/corpus.ts)" >&2
  CORPUS=
fi

make_root() { # suite
  root=$ROOTS/$1
  # The root records the package list it was made with: a root made with another list is made again.
  [ -x "$root/usr/bin/linux.uml" ] && [ "$(cat "$root/.vnetlab-packages" 2>/dev/null)" = "$PACKAGES" ] && return 0
  mkdir -p "$ROOTS"
  rm -rf "$root.tmp" "$root.old"
  echo "test:kernels: making the $1 root in $root (once; about a minute)" >&2
  # sid's Release file may be older than its Valid-Until on a frozen mirror: not a reason to fail.
  mmdebstrap --variant=minbase --include="$PACKAGES" --aptopt='Acquire::Check-Valid-Until "false"' \
    "$1" "$root.tmp" "$MIRROR" > "$ROOTS/$1.log" 2>&1 \
    || fail_env "could not make the $1 root (see $ROOTS/$1.log)" "check the network and the mirror $MIRROR, or set VNETLAB_DEBIAN_MIRROR"
  echo "$PACKAGES" > "$root.tmp/.vnetlab-packages"
  [ -d "$root" ] && mv "$root" "$root.old"
  mv "$root.tmp" "$root"
  rm -rf "$root.old"
}

run_suite() { # suite
  root=$ROOTS/$1
  version=$(ls "$root/usr/lib/uml/modules" 2>/dev/null | head -n 1); version=${version:-?}
  echo "test:kernels: $1: UML $version; vitest run $TESTS" >&2
  started=$(date +%s)
  # A private mount namespace: every mount below disappears with it, even when the run is killed.
  set +e
  unshare --mount --propagation private sh -eu -c '
    root=$1 repo=$2 node=$3 corpus=$4; shift 4
    # The root a mount point of its own: inside the chroot, "/" must be one for `unshare --mount
    # --propagation private` (the debian image build) to work ("cannot change root filesystem propagation").
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mkdir -p "$root$repo" "$root/opt/vnetlab/bin"
    mount --bind "$repo" "$root$repo"
    # The corpus of Netkit/Kathará labs the corpus tests read (read-only, at the same path).
    if [ -n "$corpus" ]; then mkdir -p "$root$corpus"; mount --bind -o ro "$corpus" "$root$corpus"; fi
    cp "$node" "$root/opt/vnetlab/bin/node"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # The images first, for this kernel (each only when missing or stale): a debian image that cannot be
    # built fails the run here, instead of letting its tests skip themselves.
    exec chroot "$root" env -i PATH=/opt/vnetlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 TMPDIR=/tmp CI=${CI:-} VNETLAB_TEST_DEBIAN=1 ${corpus:+VNETLAB_CORPUS=$corpus} \
      ${VNETLAB_UML_XSTATE_FIX:+VNETLAB_UML_XSTATE_FIX=$VNETLAB_UML_XSTATE_FIX} ${VNETLAB_UML_NORANDMAPS:+VNETLAB_UML_NORANDMAPS=$VNETLAB_UML_NORANDMAPS} \
      sh -c "cd \"$repo\" && node bin/vnetlab.mjs image build tiny && node bin/vnetlab.mjs image build debian && exec node node_modules/vitest/vitest.mjs run --reporter=verbose \"\$@\"" vitest "$@"
  ' test-kernels "$root" "$REPO" "$NODE" "$CORPUS" $TESTS
  code=$?
  set -e
  echo "test:kernels: $1 (UML $version): exit $code in $(( $(date +%s) - started )) s" >&2
  return $code
}

overall=0
for suite in $SUITES; do
  make_root "$suite"
  run_suite "$suite" || overall=1
done
exit $overall
