#!/usr/bin/env bash
# Checks the packages that packaging/build.sh left in target/package/ ($CARGO_TARGET_DIR/package/ when set):
# - DEB: metadata, exact file list with modes and owners, conffiles,
#   maintainer scripts with and without BILLmanager, a full
#   install/upgrade/remove/purge cycle with dpkg --root in a scratch root;
# - the packaged binary: glibc floor, shared libraries, `--command features`;
# - RPM: metadata, file list with modes/owners/config flags, scriptlets,
#   requirements, same binary as the DEB;
# - the logrotate rule, by really rotating a log;
# - the cron file: every job commented out, each naming the packaged binary.
# Needs root (dpkg -x keeps owners). Last line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
MGR5=/usr/local/mgr5

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok   - %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL - %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/       /'; }
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0; shows its output otherwise.
check() {
  local desc=$1 output
  shift
  if output=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$output"; fi
}
# same EXPECTED ACTUAL: passes when both strings are equal; shows a diff otherwise.
same() {
  local desc=$1 want=$2 got=$3
  if [ "$want" = "$got" ]; then pass "$desc"; else fail "$desc" "$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") || true)"; fi
}

scratch=$(mktemp -d /tmp/pmsslreseller-pkgtest.XXXXXX)
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    printf 'FAIL - test script aborted (exit %s at line %s of packaging/test.sh)\n' "$rc" "$err_line"
  fi
  rm -rf "$scratch"
  printf '%s passed, %s failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
}
err_line='?'
trap 'err_line=$LINENO' ERR
trap finish EXIT

need_apt=()
command -v rpm >/dev/null 2>&1 || need_apt+=(rpm)
command -v objdump >/dev/null 2>&1 || need_apt+=(binutils)
command -v logrotate >/dev/null 2>&1 || need_apt+=(logrotate)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# target, out, release, version, pkg_version, deb, rpm
source packaging/names.sh

# What both packages must contain, and nothing else ("mode owner:group path").
expected_files="0644 root:root /etc/cron.d/pmsslreseller
0644 root:root /etc/logrotate.d/pmsslreseller
0644 root:root $MGR5/etc/pmsslreseller.toml
0644 root:root $MGR5/etc/xml/billmgr_mod_pmsslreseller.xml
0755 root:root $MGR5/processing/pmsslreseller
0755 root:root /usr/share/doc/pmsslreseller/examples/deploy-ispmanager.sh
0755 root:root /usr/share/doc/pmsslreseller/examples/deploy-mail.sh"
expected_conffiles="$MGR5/etc/pmsslreseller.toml
/etc/logrotate.d/pmsslreseller
/etc/cron.d/pmsslreseller"
# The one symlink: the admin commands by their bare name ("path -> target").
expected_links="/usr/local/bin/pmsslreseller -> ../mgr5/processing/pmsslreseller"

# "-rwxr-xr-x" -> "0755" (setuid/sticky bits would show as s/t and fail the comparison).
octal_mode() {
  local perms=$1 m=0 i c
  for i in 1 2 3 4 5 6 7 8 9; do
    c=${perms:$i:1}
    case $c in -) m=$((m * 2)) ;; r | w | x) m=$((m * 2 + 1)) ;; *) echo "odd-mode:$perms"; return ;; esac
  done
  printf '%04o' "$m"
}
# A stand-in mgrctl that records its arguments (and fails when asked to).
fake_mgrctl() { # ROOT
  mkdir -p "$1$MGR5/sbin"
  cat >"$1$MGR5/sbin/mgrctl" <<'SH'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/mgrctl.calls"
[ ! -e "$(dirname "$0")/mgrctl.fail" ]
SH
  chmod 0755 "$1$MGR5/sbin/mgrctl"
  : >"$1$MGR5/sbin/mgrctl.calls"
}
mgrctl_calls() { cat "$1$MGR5/sbin/mgrctl.calls" 2>/dev/null || true; }
# PATH for maintainer scripts: the system's, which has no mgrctl.
clean_path=/usr/sbin:/usr/bin:/sbin:/bin

echo "# DEB $deb"
if [ -f "$deb" ]; then pass "DEB exists"; else fail "DEB exists" "missing $deb (run packaging/build.sh)"; exit 1; fi

same "DEB control: name, version, arch" "pmsslreseller ${pkg_version}-${release} amd64" \
  "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(dpkg-deb -f "$deb" Architecture)"
same "DEB depends on glibc >= 2.28 only" "libc6 (>= 2.28)" "$(dpkg-deb -f "$deb" Depends)"
# The Depends line is exact, so the binary must not need more than glibc.

# dpkg-deb -c: "perms owner/group size date time ./path"
listing=$(dpkg-deb -c "$deb")
same "DEB regular files, modes, owners: exactly the expected set" "$expected_files" \
  "$(printf '%s\n' "$listing" | awk '$1 ~ /^-/ {print $1, $2, substr($6, 2)}' | while read -r perms owner path; do
       printf '%s %s %s\n' "$(octal_mode "$perms")" "${owner/\//:}" "$path"; done | sort -k3)"
same "DEB symlinks: exactly the expected one" "$expected_links" \
  "$(printf '%s\n' "$listing" | awk '$1 ~ /^l/ {print substr($6, 2), $7, $8}')"
same "DEB has no devices or other special entries" "" \
  "$(printf '%s\n' "$listing" | awk '$1 !~ /^[-dl]/')"
same "DEB directories are root:root 0755" "" \
  "$(printf '%s\n' "$listing" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root")')"
check "DEB does not ship billmgr-sim" bash -c "! grep -q billmgr-sim <<<\"\$1\"" _ "$listing"

ctrl="$scratch/control"
dpkg-deb -e "$deb" "$ctrl"
same "DEB control members" "conffiles control postinst postrm" "$(cd "$ctrl" && ls | sort | tr '\n' ' ' | sed 's/ $//')"
same "DEB conffiles: config, logrotate rule, cron jobs" "$expected_conffiles" "$(cat "$ctrl/conffiles")"
same "DEB maintainer scripts are 0755" "755 755" "$(stat -c %a "$ctrl/postinst") $(stat -c %a "$ctrl/postrm")"
check "DEB maintainer scripts are valid sh" bash -c 'sh -n "$1" && sh -n "$2"' _ "$ctrl/postinst" "$ctrl/postrm"

x="$scratch/x"
dpkg -x "$deb" "$x"
got=""
while read -r _ _ path; do
  got+="$(stat -c '%04a %U:%G' "$x$path") $path"$'\n'
done <<<"$expected_files"
same "dpkg -x: every file has its mode and owner" "$expected_files" "${got%$'\n'}"
check "packaged descriptor is xml/billmgr_mod_pmsslreseller.xml" cmp "$repo/xml/billmgr_mod_pmsslreseller.xml" "$x$MGR5/etc/xml/billmgr_mod_pmsslreseller.xml"
check "packaged config is etc/pmsslreseller.toml" cmp "$repo/etc/pmsslreseller.toml" "$x$MGR5/etc/pmsslreseller.toml"
check "packaged logrotate rule is packaging/logrotate" cmp "$repo/packaging/logrotate" "$x/etc/logrotate.d/pmsslreseller"
check "packaged cron jobs are packaging/cron" cmp "$repo/packaging/cron" "$x/etc/cron.d/pmsslreseller"
same "dpkg -x: /usr/local/bin/pmsslreseller runs the module binary" "pmsslreseller $version" \
  "$("$x/usr/local/bin/pmsslreseller" --version 2>&1)"

echo "# packaged binary"
bin="$x$MGR5/processing/pmsslreseller"
check "glibc floor 2.28 (objdump -T)" bash "$repo/packaging/check-glibc.sh" "$bin" 2.28
highest=$(readelf -V --wide "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
check "glibc floor 2.28 (readelf -V: highest is $highest)" test "$(printf '%s\n2.28\n' "$highest" | sort -V | tail -n1)" = 2.28
needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
check "needs only glibc libraries ($needed)" bash -c '
  for lib in $1; do
    case $lib in libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|ld-linux-x86-64.so.2) ;;
      *) echo "unexpected shared library $lib"; exit 1 ;; esac
  done' _ "$needed"

# The module answers only in a BILLmanager root: one with sbin/mgrctl.
fake_mgrctl "$x"
features=$(cd / && env -i PATH="$clean_path" MGR5_ROOT="$x$MGR5" "$bin" --command features </dev/null 2>"$scratch/features.err") \
  && rc=0 || rc=$?
same "features: exit code 0" 0 "$rc"
check "features: a valid features document" python3 -c '
import sys, xml.etree.ElementTree as ET
text = sys.argv[1]
assert text.startswith("<?xml"), "no XML declaration"
doc = ET.fromstring(text.encode())
assert doc.tag == "doc", "root is " + doc.tag
assert doc.find("error") is None, "error answer: " + text
names = [e.get("name") for e in doc.findall("itemtypes/itemtype")]
assert "certificate" in names, "itemtypes %r" % names
feats = doc.find("features")
assert feats is not None, "no <features>"
assert all(f.get("name") for f in feats.findall("feature")), "feature without name"
assert doc.find("params") is not None, "no <params>"
' "$features"

echo "# DEB maintainer scripts"
noroot="$scratch/nobill"
mkdir -p "$noroot"
check "no mgrctl on the maintainer scripts' PATH" bash -c "! PATH=$clean_path command -v mgrctl"
for call in "postinst configure" "postrm remove" "postrm purge" "postrm upgrade"; do
  # shellcheck disable=SC2086 # split "script argument"
  set -- $call
  check "without BILLmanager: $call exits 0" env -i PATH="$clean_path" DPKG_ROOT="$noroot" sh "$ctrl/$1" "$2" "$pkg_version-$release"
done

bill="$scratch/bill"
fake_mgrctl "$bill"
env -i PATH="$clean_path" DPKG_ROOT="$bill" sh "$ctrl/postinst" configure >/dev/null
same "with BILLmanager: postinst configure restarts it" "-m billmgr -R" "$(mgrctl_calls "$bill")"
fake_mgrctl "$bill"
env -i PATH="$clean_path" DPKG_ROOT="$bill" sh "$ctrl/postrm" upgrade "$pkg_version-$release" >/dev/null
same "with BILLmanager: postrm upgrade leaves the restart to postinst" "" "$(mgrctl_calls "$bill")"
env -i PATH="$clean_path" DPKG_ROOT="$bill" sh "$ctrl/postrm" remove >/dev/null
same "with BILLmanager: postrm remove restarts it" "-m billmgr -R" "$(mgrctl_calls "$bill")"
touch "$bill$MGR5/sbin/mgrctl.fail"
check "a failing restart does not fail postinst" env -i PATH="$clean_path" DPKG_ROOT="$bill" sh "$ctrl/postinst" configure
rm -f "$bill$MGR5/sbin/mgrctl.fail"

echo "# dpkg --root install / upgrade / remove / purge"
r="$scratch/root"
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers"
: >"$r/var/lib/dpkg/status"
fake_mgrctl "$r"
# --force-script-chrootless: run our scripts on this host with DPKG_ROOT=$r
# (the scratch root has no shell to chroot into); --force-depends: no libc6 there.
dpkg_r() { env PATH="$clean_path" dpkg --root="$r" --log=/dev/null --force-script-chrootless --force-depends "$@"; }
check "dpkg --root -i" dpkg_r -i "$deb"
same "dpkg: status installed" "install ok installed" "$(dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Status}' pmsslreseller)"
same "dpkg: conffiles registered" "$expected_conffiles" \
  "$(dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Conffiles}\n' pmsslreseller | awk 'NF {print $1}')"
same "dpkg: install restarted BILLmanager" "-m billmgr -R" "$(mgrctl_calls "$r")"
check "dpkg: installed binary is executable" test -x "$r$MGR5/processing/pmsslreseller"
check "dpkg: /usr/local/bin/pmsslreseller leads to it" test "$r/usr/local/bin/pmsslreseller" -ef "$r$MGR5/processing/pmsslreseller"
echo '# admin edit' >>"$r$MGR5/etc/pmsslreseller.toml"
echo 'old log line' >"$r/placeholder" && mkdir -p "$r$MGR5/var" && echo line >"$r$MGR5/var/pmsslreseller.log"
check "dpkg: reinstall/upgrade" dpkg_r --force-confold -i "$deb"
check "dpkg: upgrade keeps the admin's config" grep -q '^# admin edit$' "$r$MGR5/etc/pmsslreseller.toml"
fake_mgrctl "$r"
check "dpkg --remove" dpkg_r --remove pmsslreseller
same "dpkg: remove restarted BILLmanager" "-m billmgr -R" "$(mgrctl_calls "$r")"
check "dpkg: remove deletes binary, descriptor and command link" bash -c "[ ! -e '$r$MGR5/processing/pmsslreseller' ] && [ ! -e '$r$MGR5/etc/xml/billmgr_mod_pmsslreseller.xml' ] && [ ! -L '$r/usr/local/bin/pmsslreseller' ]"
check "dpkg: remove keeps the config" grep -q '^# admin edit$' "$r$MGR5/etc/pmsslreseller.toml"
check "dpkg --purge" dpkg_r --purge pmsslreseller
check "dpkg: purge deletes config, logrotate rule, cron jobs and log" bash -c "[ ! -e '$r$MGR5/etc/pmsslreseller.toml' ] && [ ! -e '$r/etc/logrotate.d/pmsslreseller' ] && [ ! -e '$r/etc/cron.d/pmsslreseller' ] && [ ! -e '$r$MGR5/var/pmsslreseller.log' ]"
check "dpkg: BILLmanager's own files untouched" test -x "$r$MGR5/sbin/mgrctl"

echo "# RPM $rpm"
if [ -f "$rpm" ]; then pass "RPM exists"; else fail "RPM exists" "missing $rpm (run packaging/build.sh)"; exit 1; fi
q() { rpm -qp --nosignature --queryformat "$1" "$rpm"; }
same "RPM name, version, release, arch" "pmsslreseller ${pkg_version} ${release} x86_64" "$(q '%{NAME} %{VERSION} %{RELEASE} %{ARCH}')"
same "RPM payload is xz (readable by EL8 rpm)" xz "$(q '%{PAYLOADCOMPRESSOR}')"
same "RPM file list (rpm -qlp)" "$({ awk '{print $3}' <<<"$expected_files"; awk '{print $1}' <<<"$expected_links"; } | sort)" \
  "$(rpm -qlp --nosignature "$rpm" | sort)"
same "RPM modes and owners of the regular files" "$expected_files" \
  "$(q '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' | awk '$1 ~ /^-/' | while read -r perms owner path; do
       printf '%s %s %s\n' "$(octal_mode "$perms")" "$owner" "$path"; done | sort -k3)"
same "RPM symlinks: exactly the expected one" "$expected_links" \
  "$(q '[%{FILEMODES:perms} %{FILENAMES} -> %{FILELINKTOS}\n]' | awk '$1 ~ /^l/ {print $2, $3, $4}')"
same "RPM config(noreplace) files" "$(sort <<<"$expected_conffiles")" \
  "$(q '[flags=%{FILEFLAGS:fflags} %{FILENAMES}\n]' | awk '$1 ~ /c/ && $1 ~ /n/ {print $2}' | sort)"
rpm_sha=$(q '[%{FILEDIGESTS} %{FILENAMES}\n]' | awk -v p="$MGR5/processing/pmsslreseller" '$2 == p {print $1}')
same "RPM and DEB carry the same binary" "$(sha256sum "$bin" | cut -d' ' -f1)" "$rpm_sha"
glibc_reqs=$(rpm -qp --nosignature --requires "$rpm" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
check "RPM requires no glibc above 2.28 (highest: ${glibc_reqs:-none})" \
  test "$(printf '%s\n2.28\n' "${glibc_reqs:-0}" | sort -V | tail -n1)" = 2.28
scripts=$(rpm -qp --nosignature --scripts "$rpm")
check "RPM has postinstall and postuninstall scriptlets restarting BILLmanager" bash -c \
  'grep -q "^postinstall scriptlet" <<<"$1" && grep -q "^postuninstall scriptlet" <<<"$1" && [ "$(grep -c "mgrctl -m billmgr -R\|\"\$mgrctl\" -m billmgr -R" <<<"$1")" -ge 2 ]' _ "$scripts"
postin=$(q '%{POSTIN}')
postun=$(q '%{POSTUN}')
if [ -e "$MGR5/sbin/mgrctl" ]; then
  echo "# note: $MGR5/sbin/mgrctl exists on this machine; RPM scriptlets not run as is"
else
  check "RPM %post without BILLmanager exits 0" env -i PATH="$clean_path" sh -c "$postin" rpm-post 1
  check "RPM %postun without BILLmanager exits 0" env -i PATH="$clean_path" sh -c "$postun" rpm-postun 0
fi
# The same scriptlets pointed at a scratch BILLmanager root.
rb="$scratch/rpmbill"
fake_mgrctl "$rb"
env -i PATH="$clean_path" sh -c "${postin//$MGR5/$rb$MGR5}" rpm-post 2 >/dev/null
same "RPM %post (upgrade) restarts BILLmanager" "-m billmgr -R" "$(mgrctl_calls "$rb")"
fake_mgrctl "$rb"
env -i PATH="$clean_path" sh -c "${postun//$MGR5/$rb$MGR5}" rpm-postun 1 >/dev/null
same "RPM %postun on upgrade does not restart" "" "$(mgrctl_calls "$rb")"
env -i PATH="$clean_path" sh -c "${postun//$MGR5/$rb$MGR5}" rpm-postun 0 >/dev/null
same "RPM %postun on erase restarts BILLmanager" "-m billmgr -R" "$(mgrctl_calls "$rb")"

# A real rpm transaction in a scratch root. --noscripts: the scratch root has
# no shell to run them in (they are checked above); --nodeps: no glibc there.
rr="$scratch/rpmroot"
mkdir -p "$rr"
rpm_r() { rpm --root "$rr" --dbpath /rpmdb --nosignature --nodeps --noscripts "$@" 2>&1 | grep -v -e 'should not be used directly' -e 'assuming you know what you are doing' || true; }
rpm --root "$rr" --dbpath /rpmdb --initdb
rpm_r -i "$rpm" >/dev/null
got=""
while read -r _ _ path; do
  got+="$(stat -c '%04a %U:%G' "$rr$path" 2>&1) $path"$'\n'
done <<<"$expected_files"
same "rpm -i: every file has its mode and owner" "$expected_files" "${got%$'\n'}"
check "rpm -i: /usr/local/bin/pmsslreseller leads to the binary" test "$rr/usr/local/bin/pmsslreseller" -ef "$rr$MGR5/processing/pmsslreseller"
echo '# admin edit' >>"$rr$MGR5/etc/pmsslreseller.toml"
rpm_r -U --replacepkgs "$rpm" >/dev/null
check "rpm -U: upgrade keeps the admin's config" grep -q '^# admin edit$' "$rr$MGR5/etc/pmsslreseller.toml"
rpm_r -e pmsslreseller >/dev/null
check "rpm -e: binary and descriptor removed" bash -c "[ ! -e '$rr$MGR5/processing/pmsslreseller' ] && [ ! -e '$rr$MGR5/etc/xml/billmgr_mod_pmsslreseller.xml' ]"
check "rpm -e: edited config saved as .rpmsave" grep -q '^# admin edit$' "$rr$MGR5/etc/pmsslreseller.toml.rpmsave"

echo "# logrotate rule"
check "logrotate accepts the rule" logrotate -d "$x/etc/logrotate.d/pmsslreseller"
lr="$scratch/logrotate"
mkdir -p "$lr"
printf 'line one\nline two\n' >"$lr/pmsslreseller.log"
sed "s#$MGR5/var/pmsslreseller.log#$lr/pmsslreseller.log#" "$x/etc/logrotate.d/pmsslreseller" >"$lr/rule"
check "logrotate -f rotates" logrotate -f -s "$lr/state" "$lr/rule"
check "rotated copy keeps the lines, the log is truncated in place" bash -c \
  "grep -q 'line two' '$lr/pmsslreseller.log.1' && [ -f '$lr/pmsslreseller.log' ] && [ ! -s '$lr/pmsslreseller.log' ]"

echo "# cron jobs"
cron="$x/etc/cron.d/pmsslreseller"
check "cron: no job is switched on by the package" bash -c '! grep -Ev "^[[:space:]]*(#|$)" "$1"' _ "$cron"
# Each "#<5 time fields> root <command>" line, switched on, runs the packaged binary by its full path
# (cron's PATH has no /usr/local/bin) for one of the three jobs.
jobs=$(sed -n 's/^#\([^ #]\+ [^ ]\+ [^ ]\+ [^ ]\+ [^ ]\+\) root \(.*\)$/\2/p' "$cron")
same "cron: sync, reconcile, catalog refresh --check, in that order" \
  "$MGR5/processing/pmsslreseller sync --module 1
$MGR5/processing/pmsslreseller reconcile --module 1
$MGR5/processing/pmsslreseller catalog refresh --module 1 --check" \
  "$(sed 's/ *>\/dev\/null.*//' <<<"$jobs")"
check "cron: says to replace 1 by the module id" grep -q "replace 1 by your module id" "$cron"
