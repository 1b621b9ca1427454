#!/usr/bin/env bash
# Installs the DEB from target/package/ ($CARGO_TARGET_DIR/package/ when set)
# into real Debian 11 (bullseye) and Debian 13 (trixie) userlands made with
# `debootstrap --variant=minbase`, and runs the INSTALLED binary there:
# `--command features`, and `--command check_connection` against
# `billmgr-sim upstream` on the host loopback (a chroot shares the host network).
# Debian 12 is what packaging/test.sh (make package-test) runs on.
# The RPM: packaging/test.sh already checks it (rpm --root install/upgrade/erase,
# scriptlets); here rpm itself runs the scriptlets inside the trixie root, which
# has the /bin/sh that test.sh's empty rpm root lacks.
# Not part of `make test` (network and minutes). Needs root; installs
# debootstrap (and rpm) with apt-get when missing. Pristine roots are cached as
# tarballs under target/package-matrix/. Last line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# target, out, release, version, pkg_version, deb, rpm
source packaging/names.sh
cache="$target/package-matrix"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suites=(bullseye trixie)
MGR5=/usr/local/mgr5
bin_in_root=$MGR5/processing/pmsslreseller
# Simulator account for check_connection (a test-only secret).
sim_user=reseller@example.com
sim_pass='Matrix-Pw&1'
sim_balance=321.50

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok - %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'not ok - %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/    /'; }
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0; shows its output otherwise.
check() {
  local desc=$1 output
  shift
  if output=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$output"; fi
}

[ "$(id -u)" -eq 0 ] || { echo "packaging/matrix.sh: run as root (debootstrap, chroot)" >&2; exit 1; }

mkdir -p "$cache"
scratch=$(mktemp -d "$cache/run.XXXXXX")
sim_pid=
mounted=()
finish() {
  local rc=$? m
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=$((failed + 1))
    printf 'not ok - matrix script aborted (exit %s)\n' "$rc"
  fi
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -z "$sim_pid" ] || { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }
  # Never delete a tree that still has something mounted in it.
  if ! grep -q " $scratch/" /proc/mounts; then rm -rf "$scratch"; fi
  printf '%s passed, %s failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
}
trap finish EXIT
# A signal ends the script through finish too (unmount, simulator stopped).
trap 'exit 130' INT TERM

need_apt=()
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v rpm >/dev/null 2>&1 || need_apt+=(rpm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 1. The packages (built when missing), named by packaging/names.sh.
[ -f "$deb" ] && [ -f "$rpm" ] || bash packaging/build.sh
sim="$target/debug/billmgr-sim"
[ -x "$sim" ] || cargo build -p billmgr-sim
echo "# DEB $deb"

# 2. The simulator upstream on the host loopback; port from its first stdout line.
"$sim" upstream --listen 127.0.0.1:0 --account "$sim_user:$sim_pass:$sim_balance:EUR" >"$scratch/sim.out" 2>"$scratch/sim.err" &
sim_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n '1s#^listening on \(http://127\.0\.0\.1:[0-9]*\)$#\1/billmgr#p' "$scratch/sim.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { fail "billmgr-sim upstream starts" "$(cat "$scratch/sim.err")"; exit 1; }
xml_esc() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' <<<"$1"; }
# The settings XML BILLmanager pipes to check_connection (as tests/check_connection.rs).
settings="<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<doc><processingmodule><id>1</id><url>$url</url><username>$(xml_esc "$sim_user")</username><password>$(xml_esc "$sim_pass")</password><mirror_suspend>off</mirror_suspend></processingmodule></doc>"

# A pristine minbase root of SUITE, cached as a tarball; echoes the tarball path.
root_tarball() { # SUITE
  local suite=$1 tarball="$cache/$1-minbase.tar.gz" tmp
  if [ ! -s "$tarball" ]; then
    tmp="$scratch/debootstrap-$suite"
    debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$scratch/debootstrap-$suite.log" 2>&1 \
      || { tail -n 20 "$scratch/debootstrap-$suite.log" >&2; return 1; }
    tar -C "$tmp" -czf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$tmp"
  fi
  echo "$tarball"
}
# A stand-in mgrctl that records its arguments (as in packaging/test.sh).
fake_mgrctl() { # ROOT
  mkdir -p "$1$MGR5/sbin"
  printf '#!/bin/sh\necho "$*" >>"$(dirname "$0")/mgrctl.calls"\n' >"$1$MGR5/sbin/mgrctl"
  chmod 0755 "$1$MGR5/sbin/mgrctl"
  : >"$1$MGR5/sbin/mgrctl.calls"
}
mgrctl_calls() { cat "$1$MGR5/sbin/mgrctl.calls" 2>/dev/null || true; }
in_root() { # ROOT COMMAND...: COMMAND in the chroot with a clean environment.
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

features_ok() { # XML: a features answer, no error
  python3 -c '
import sys, xml.etree.ElementTree as ET
doc = ET.fromstring(sys.argv[1].encode())
assert doc.tag == "doc" and doc.find("error") is None, sys.argv[1]
assert "certificate" in [e.get("name") for e in doc.findall("itemtypes/itemtype")], sys.argv[1]
assert doc.find("features") is not None, sys.argv[1]
' "$1"
}

for suite in "${suites[@]}"; do
  echo "# Debian $suite"
  if tarball=$(root_tarball "$suite"); then pass "$suite: debootstrap --variant=minbase root"; else fail "$suite: debootstrap --variant=minbase root"; continue; fi
  r="$scratch/$suite"
  mkdir -p "$r"
  tar -C "$r" -xzf "$tarball"
  mount -t proc proc "$r/proc" && mounted+=("$r/proc")
  label="$suite (glibc $(in_root "$r" sh -c 'ldd --version | head -n1 | grep -o "[0-9.]*$"' || echo unknown))"
  cp "$deb" "$r/tmp/pmsslreseller.deb"

  check "$label: chroot dpkg -i without BILLmanager" in_root "$r" dpkg -i /tmp/pmsslreseller.deb
  check "$label: package installed" test "$(in_root "$r" dpkg-query -W -f='${Status}' pmsslreseller)" = "install ok installed"

  # The module answers only in a BILLmanager root: one with sbin/mgrctl.
  fake_mgrctl "$r"
  if features=$(in_root "$r" "$bin_in_root" --command features </dev/null 2>"$scratch/features.err"); then
    check "$label: installed binary: --command features" features_ok "$features"
  else
    fail "$label: installed binary: --command features exits 0" "$features$(cat "$scratch/features.err")"
  fi

  answer=$(in_root "$r" "$bin_in_root" --command check_connection <<<"$settings" 2>"$scratch/cc.err") && rc=0 || rc=$?
  log=$(cat "$r$MGR5/var/pmsslreseller.log" 2>/dev/null || true)
  if [ "$rc" -eq 0 ] && [ "$answer" = '<?xml version="1.0" encoding="UTF-8"?>
<doc/>' ] && grep -q "balance $sim_balance EUR" <<<"$log"; then
    pass "$label: installed binary: --command check_connection against billmgr-sim (balance $sim_balance EUR)"
  else
    fail "$label: installed binary: --command check_connection against billmgr-sim" \
      "exit $rc; answer: $answer; stderr: $(cat "$scratch/cc.err"); log: $(tail -n 5 <<<"$log")"
  fi
  check "$label: the password is in neither answer nor log" bash -c '! grep -qF -- "$1" <<<"$2$3"' _ "$sim_pass" "$answer" "$log"

  fake_mgrctl "$r"
  check "$label: chroot dpkg -i again with a stand-in BILLmanager" in_root "$r" dpkg -i /tmp/pmsslreseller.deb
  check "$label: postinst restarted BILLmanager" test "$(mgrctl_calls "$r")" = "-m billmgr -R"
  check "$label: chroot dpkg --purge" in_root "$r" dpkg --purge pmsslreseller
  check "$label: purge leaves only BILLmanager's own files" bash -c \
    "[ ! -e '$r$bin_in_root' ] && [ ! -e '$r$MGR5/etc/pmsslreseller.toml' ] && [ ! -e '$r/etc/logrotate.d/pmsslreseller' ] && [ ! -e '$r/etc/cron.d/pmsslreseller' ] && [ ! -L '$r/usr/local/bin/pmsslreseller' ] && [ -x '$r$MGR5/sbin/mgrctl' ]"

  if [ "$suite" = trixie ]; then
    # rpm runs %post/%postun itself, chrooted into a real userland (test.sh's
    # scratch rpm root has no shell, so there it runs them by hand).
    rpm_r() { rpm --root "$r" --dbpath /var/lib/rpm-matrix --nosignature --nodeps "$@" 2>&1 \
      | grep -v -e 'should not be used directly' -e 'assuming you know what you are doing' || true; }
    rpm --root "$r" --dbpath /var/lib/rpm-matrix --initdb
    fake_mgrctl "$r"
    rpm_r -i "$rpm" >"$scratch/rpm.out"
    check "$suite: rpm --root -i installs the binary" test -x "$r$bin_in_root"
    check "$suite: rpm ran %post in the root: BILLmanager restarted" test "$(mgrctl_calls "$r")" = "-m billmgr -R"
    if features=$(in_root "$r" "$bin_in_root" --command features </dev/null 2>&1); then
      check "$suite: RPM-installed binary: --command features" features_ok "$features"
    else
      fail "$suite: RPM-installed binary: --command features exits 0" "$features"
    fi
    fake_mgrctl "$r"
    rpm_r -e pmsslreseller >>"$scratch/rpm.out"
    check "$suite: rpm -e removes the binary and runs %postun (restart)" bash -c \
      "[ ! -e '$r$bin_in_root' ] && [ \"\$(cat '$r$MGR5/sbin/mgrctl.calls')\" = '-m billmgr -R' ] || { cat '$scratch/rpm.out'; false; }"
  fi

  umount "$r/proc" && unset 'mounted[-1]'
  rm -rf "$r"
done
