#!/usr/bin/env bash
# Builds the pmsslreseller packages into target/package/ ($CARGO_TARGET_DIR/package/ when set):
#   pmsslreseller_<version>-<release>_amd64.deb   Debian 11/12, Ubuntu 20.04/22.04/24.04
#   pmsslreseller-<version>-<release>.x86_64.rpm  AlmaLinux/Rocky 8 and 9
# The binary is built once with cargo-zigbuild against glibc 2.28 (the oldest
# glibc among those systems) and must pass packaging/check-glibc.sh.
# Runs as root on Debian/Ubuntu; installs what it needs (binutils, rpm via
# apt-get; ziglang and cargo-zigbuild via pip) when missing.
# Environment: PKG_RELEASE (default 1), PKG_MAINTAINER, CARGO (default cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

glibc_floor=2.28
zig_target="x86_64-unknown-linux-gnu.${glibc_floor}"
# Pinned: a new zig release can change what cargo-zigbuild expects.
pip_pkgs=(ziglang==0.17.1 cargo-zigbuild==0.24.1)
maintainer=${PKG_MAINTAINER:-"pmsslreseller maintainers <root@localhost>"}
CARGO=${CARGO:-cargo}

log() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

ensure_tools() {
  local apt=()
  command -v objdump >/dev/null 2>&1 || apt+=(binutils)
  command -v rpmbuild >/dev/null 2>&1 || apt+=(rpm)
  command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found: build on Debian or Ubuntu"
  if [ ${#apt[@]} -gt 0 ]; then
    log "apt-get install ${apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${apt[@]}" >/dev/null
  fi
  # pip puts console scripts (cargo-zigbuild) here; it may not be on PATH.
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  export PATH="$PATH:$scripts"
  if ! cargo-zigbuild --version >/dev/null 2>&1 \
     || ! { command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; }; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      log "apt-get install python3-pip"
      apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
    fi
    log "pip install ${pip_pkgs[*]}"
    # A distribution's own python3 (PEP 668) refuses plain pip installs; these
    # two packages only add the zig toolchain and a cargo subcommand.
    python3 -m pip install --quiet --disable-pip-version-check "${pip_pkgs[@]}" \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${pip_pkgs[@]}"
    hash -r
  fi
  cargo-zigbuild --version >/dev/null 2>&1 || die "cargo zigbuild still not runnable after pip install"
}

ensure_tools

# target, out, release, version, pkg_version, deb, rpm
source packaging/names.sh
[ -n "$version" ] || die "cannot read the version of pmsslreseller from Cargo.toml"

log "building pmsslreseller $version for $zig_target"
"$CARGO" zigbuild --release --locked -p pmsslreseller --bin pmsslreseller --target "$zig_target"
bin="$target/x86_64-unknown-linux-gnu/release/pmsslreseller"
[ -x "$bin" ] || die "cargo zigbuild did not produce $bin"
bash "$repo/packaging/check-glibc.sh" "$bin" "$glibc_floor"

# Package timestamps from the last commit (reproducible packages). Set only
# now: C build scripts (ring, zstd-sys) rebuild when this variable changes.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

rm -rf "$out"
mkdir -p "$out"

# ---- DEB: staged tree + dpkg-deb ----
stage="$out/deb-root"
mgr5="$stage/usr/local/mgr5"
install -D -m 0755 "$bin" "$mgr5/processing/pmsslreseller"
install -D -m 0644 xml/billmgr_mod_pmsslreseller.xml "$mgr5/etc/xml/billmgr_mod_pmsslreseller.xml"
install -D -m 0644 etc/pmsslreseller.toml "$mgr5/etc/pmsslreseller.toml"
install -D -m 0644 packaging/logrotate "$stage/etc/logrotate.d/pmsslreseller"
install -D -m 0644 packaging/cron "$stage/etc/cron.d/pmsslreseller"
# The deploy hook examples (README "The customer's certificate").
install -D -m 0755 packaging/examples/deploy-mail.sh "$stage/usr/share/doc/pmsslreseller/examples/deploy-mail.sh"
install -D -m 0755 packaging/examples/deploy-ispmanager.sh "$stage/usr/share/doc/pmsslreseller/examples/deploy-ispmanager.sh"
# The admin commands by their bare name: BILLmanager's processing/ is on no PATH.
install -d -m 0755 "$stage/usr/local/bin"
ln -s ../mgr5/processing/pmsslreseller "$stage/usr/local/bin/pmsslreseller"
install -d -m 0755 "$stage/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/postrm "$stage/DEBIAN/"
# The files under etc are the admin's once installed: upgrades keep their edits
# (the cron jobs the admin switched on above all).
printf '%s\n' /usr/local/mgr5/etc/pmsslreseller.toml /etc/logrotate.d/pmsslreseller /etc/cron.d/pmsslreseller \
  >"$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: pmsslreseller
Version: ${pkg_version}-${release}
Architecture: amd64
Maintainer: ${maintainer}
Installed-Size: ${installed_kb}
Depends: libc6 (>= ${glibc_floor})
Recommends: logrotate
Section: misc
Priority: optional
Description: BILLmanager processing module reselling SSL certificates
 pmsslreseller is a BILLmanager 5/6 service processing module for the product
 type "SSL certificate": it sells certificates that the provider buys from
 another ("upstream") BILLmanager. Installs into /usr/local/mgr5; restart
 BILLmanager after installing (the package does it when BILLmanager is present).
CONTROL
chmod 0644 "$stage/DEBIAN/control"
# xz: readable by every supported dpkg (zstd is not, on Debian 11).
dpkg-deb -Zxz --root-owner-group --build "$stage" "$deb" >/dev/null
log "built $deb"

# ---- RPM: rpmbuild from the spec, with the same prebuilt binary ----
rpmtop="$out/rpmbuild"
mkdir -p "$rpmtop/SOURCES" "$rpmtop/BUILD" "$rpmtop/BUILDROOT"
install -m 0755 "$bin" "$rpmtop/SOURCES/pmsslreseller"
install -m 0644 xml/billmgr_mod_pmsslreseller.xml etc/pmsslreseller.toml "$rpmtop/SOURCES/"
install -m 0644 packaging/logrotate "$rpmtop/SOURCES/pmsslreseller.logrotate"
install -m 0644 packaging/cron "$rpmtop/SOURCES/pmsslreseller.cron"
install -m 0755 packaging/examples/deploy-mail.sh packaging/examples/deploy-ispmanager.sh "$rpmtop/SOURCES/"
rpmbuild -bb --quiet \
  --define "_topdir $rpmtop" \
  --define "_sourcedir $rpmtop/SOURCES" \
  --define "_rpmdir $out" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  --define "use_source_date_epoch_as_buildtime 1" \
  --define "pkg_version $pkg_version" \
  --define "pkg_release $release" \
  packaging/pmsslreseller.spec
[ -f "$rpm" ] || die "rpmbuild did not produce $rpm"
rm -rf "$rpmtop" "$stage"
log "built $rpm"
