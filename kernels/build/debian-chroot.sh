#!/bin/sh
# Installs the packages of the debian image into a debootstrapped root, then adapts it to vnetlab.
# Usage (as root): unshare --mount --propagation private sh debian-chroot.sh ROOT APT_CACHE PACKAGE...
# It runs in a private mount namespace, so the mounts below vanish when it ends, even if it is killed.
set -eu
ROOT=$1
APT_CACHE=$2
shift 2
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; }

mount -t proc proc "$ROOT/proc"
mkdir -p "$APT_CACHE/partial" "$ROOT/var/cache/apt/archives"
# The downloaded .debs stay in the host cache, so a rebuild downloads nothing.
mount --bind "$APT_CACHE" "$ROOT/var/cache/apt/archives"

# No service may start while packages install (nor later: guests have no init system that would).
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

# Guests are for labs, not for reading manuals: leave documentation out of the image (saves ~100 MB
# per image). Copyright files stay.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
cp "$(dirname "$0")/01-vnetlab-nodoc" "$ROOT/etc/dpkg/dpkg.cfg.d/01-vnetlab-nodoc"
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*

echo "apt-get update"
in_root apt-get -q update
echo "apt-get install $*"
in_root apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@"
# debootstrap left its own copies of the base packages here (hidden by the bind mount until now).
umount "$ROOT/var/cache/apt/archives"
umount "$ROOT/proc"
sh "$(dirname "$0")/debian-finish.sh" "$ROOT"
echo "packages installed"
