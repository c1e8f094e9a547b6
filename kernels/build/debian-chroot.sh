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

# Guests are for labs, not for reading manuals: leave documentation out of the image (it halves nothing
# important and saves ~100 MB per image). Copyright files stay.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
cat > "$ROOT/etc/dpkg/dpkg.cfg.d/01-vnetlab-nodoc" <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
CFG
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*

echo "apt-get update"
in_root apt-get -q update
echo "apt-get install $*"
in_root apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@"
rm -f "$ROOT/usr/sbin/policy-rc.d"

# FRR: while /etc/frr/frr.conf exists FRR ignores the per-daemon files labs ship (as Kathará's image does,
# remove it); keep FRR's pristine daemons file for the Quagga translation; no daemon enabled by default.
if [ -d "$ROOT/etc/frr" ]; then
  rm -f "$ROOT/etc/frr/frr.conf"
  mkdir -p "$ROOT/usr/share/vnetlab"
  cp "$ROOT/etc/frr/daemons" "$ROOT/usr/share/vnetlab/frr-daemons"
  sed -i 's/^\(bgpd\|ospfd\|ospf6d\|ripd\|ripngd\|isisd\|pimd\|ldpd\|nhrpd\|eigrpd\|babeld\|sharpd\|pbrd\|bfdd\|fabricd\|vrrpd\|pathd\)=yes/\1=no/' "$ROOT/etc/frr/daemons"
  mkdir -p "$ROOT/var/log/quagga" "$ROOT/var/log/frr"
  in_root chown frr:frr /var/log/quagga /var/log/frr
fi
# Debian's UML kernel has no nft NAT chains (nft_chain_nat), so `iptables -t nat` only works with the
# legacy x_tables backend.
for tool in iptables ip6tables; do
  [ -x "$ROOT/usr/sbin/$tool-legacy" ] && in_root update-alternatives --set "$tool" "/usr/sbin/$tool-legacy"
done
# debootstrap left its own copies of the base packages here (hidden by the bind mount until now).
umount "$ROOT/var/cache/apt/archives"
rm -f "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin
umount "$ROOT/proc"
# debootstrap copied the build host's resolver config; guests get theirs from the lab.
: > "$ROOT/etc/resolv.conf"
rm -rf "$ROOT"/var/lib/apt/lists/*_Packages "$ROOT"/var/lib/apt/lists/*_Translation-* "$ROOT"/var/log/apt/* "$ROOT"/var/log/dpkg.log
: > "$ROOT/etc/machine-id"
echo "packages installed"
