#!/bin/sh
# The rootless debian build's last step, run through `mmdebstrap --unshare-helper` in a user namespace
# mapped like mmdebstrap's (root there, a subordinate id of the building user outside) over the root that
# mmdebstrap --mode=unshare wrote: finish the root, unpack vnetlab's guest files over it (a tar made by
# the user with root as owner), write the ext4 image from inside the namespace, so every file keeps its
# guest owner (root, frr, bind…) although no real root was involved, and delete the root (its files
# belong to subordinate ids, which the user cannot delete from outside). The image file was created by
# the user (mode 0666 while this runs), so it stays the user's.
# Usage: sh debian-rootless-hook.sh ROOT OVERLAY_TAR IMAGE MKFS SIZE LABEL
set -eu
ROOT=$1 OVERLAY=$2 IMAGE=$3 MKFS=$4 SIZE=$5 LABEL=$6
sh "$(dirname "$0")/debian-finish.sh" "$ROOT"
# mmdebstrap's own apt settings (no recommends: the root build passes --no-install-recommends instead).
rm -f "$ROOT/etc/apt/apt.conf.d/99mmdebstrap"
# The package cache folder was synchronised from the user's cache: make it what apt leaves, root's.
rm -f "$ROOT/var/cache/apt/archives/lock"
chown -R 0:0 "$ROOT/var/cache/apt/archives"
chmod 755 "$ROOT/var/cache/apt/archives" "$ROOT/var/cache/apt/archives/partial"
# The overlay holds files under usr/ only: /lib, /sbin and /bin are symlinks into /usr (merged /usr).
for dir in lib sbin bin; do
  [ -L "$ROOT/$dir" ] || { echo "E: $ROOT/$dir is not a symlink into /usr: vnetlab expects a merged-/usr root" >&2; exit 1; }
done
tar -C "$ROOT" -xpf "$OVERLAY" --keep-directory-symlink --no-overwrite-dir
echo "writing the ext4 file system"
# The options of IMAGE_MKFS_EXTENDED (src/main/images/rootfs/common.ts): inode tables zeroed once, here.
"$MKFS" -q -F -t ext4 -L "$LABEL" -E root_owner=0:0,lazy_itable_init=0 -d "$ROOT" "$IMAGE" "$SIZE"
# The root folder itself is in the user's staging folder: the user removes it once it is empty.
find "$ROOT" -mindepth 1 -delete
