# Sourced by build.sh, test.sh and matrix.sh: where the packages go and what
# they are called, computed in one place. Needs $repo (the checkout) set;
# reads CARGO_TARGET_DIR, PKG_RELEASE (default 1) and CARGO (default cargo).
# Sets: target, out, release, version, pkg_version, deb, rpm.

# Cargo's target directory: CARGO_TARGET_DIR when set (as cargo itself reads it).
target=${CARGO_TARGET_DIR:-$repo/target}
out="$target/package"
release=${PKG_RELEASE:-1}
version=$("${CARGO:-cargo}" metadata --no-deps --format-version 1 \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="pmsslreseller"))')
# SemVer pre-releases (1.0.0-rc.1) sort before the release in dpkg and rpm only with '~'.
pkg_version=$(printf '%s' "$version" | sed 's/-/~/; s/+/./g')
deb="$out/pmsslreseller_${pkg_version}-${release}_amd64.deb"
rpm="$out/pmsslreseller-${pkg_version}-${release}.x86_64.rpm"
