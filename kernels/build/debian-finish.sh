#!/bin/sh
# The last part of the debian image build, shared by both ways of building it: after the packages are
# installed, adapt the root to vnetlab and drop what a guest does not need.
#   as root:    debian-chroot.sh calls it (debootstrap + apt in a chroot)
#   rootless:   an mmdebstrap --mode=unshare customize hook calls it, inside the user namespace
# Usage: sh debian-finish.sh ROOT   (as root, or as root of a user namespace; nothing mounted on ROOT/var/cache/apt/archives)
set -eu
ROOT=$1
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; }

rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*

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
# inetd serves telnet once a lab starts it (/etc/init.d/openbsd-inetd start), as in Netkit's filesystem;
# Debian adds the line commented out ("#<off>#"), or not at all when telnetd is configured before inetd.
if [ -x "$ROOT/usr/sbin/telnetd" ] && [ -f "$ROOT/etc/inetd.conf" ]; then
  sed -i '/^#<off># telnet[[:space:]]/d' "$ROOT/etc/inetd.conf"
  grep -q '^telnet[[:space:]]' "$ROOT/etc/inetd.conf" || printf 'telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/telnetd\n' >> "$ROOT/etc/inetd.conf"
fi
rm -f "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin
# The build host's resolver config was copied in; guests get theirs from the lab.
: > "$ROOT/etc/resolv.conf"
rm -rf "$ROOT"/var/lib/apt/lists/*_Packages "$ROOT"/var/lib/apt/lists/*_Translation-* "$ROOT"/var/log/apt/* "$ROOT"/var/log/dpkg.log
: > "$ROOT/etc/machine-id"
echo "root finished"
