#!/usr/bin/env bash
# Fails unless the ELF binary given as $1 needs no glibc symbol version newer
# than the floor (default 2.28, the glibc of AlmaLinux/Rocky 8, the oldest
# system BILLmanager runs on). A binary linked against the build machine's
# newer glibc would install fine there and then die at start-up with
# "version `GLIBC_2.xx' not found", so this is checked on every build.
set -euo pipefail

bin=${1:?usage: check-glibc.sh BINARY [FLOOR]}
floor=${2:-2.28}

if [ ! -f "$bin" ]; then
  echo "check-glibc: $bin: no such file" >&2
  exit 1
fi
if ! dynsyms=$(objdump -T "$bin" 2>&1); then
  echo "check-glibc: objdump -T $bin failed: $dynsyms" >&2
  exit 1
fi
versions=$(printf '%s\n' "$dynsyms" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV || true)
if [ -z "$versions" ]; then
  # A dynamically linked Rust binary always needs some GLIBC_ version; none
  # means objdump read something unexpected, which must not pass silently.
  echo "check-glibc: no GLIBC_ symbol versions found in $bin" >&2
  exit 1
fi
highest=$(printf '%s\n' "$versions" | tail -n1)
too_new=$(printf '%s\n' "$versions" | while read -r v; do
  [ "$v" = "$floor" ] && continue
  if [ "$(printf '%s\n%s\n' "$floor" "$v" | sort -V | tail -n1)" = "$v" ]; then echo "$v"; fi
done)
if [ -n "$too_new" ]; then
  echo "check-glibc: FAIL: $bin needs glibc newer than $floor:" >&2
  for v in $too_new; do
    printf '  GLIBC_%s used by: %s\n' "$v" \
      "$(printf '%s\n' "$dynsyms" | awk -v ver="GLIBC_${v}" '{ for (i = 1; i < NF; i++) { f = $i; gsub(/[()]/, "", f); if (f == ver) print $NF } }' | sort -u | tr '\n' ' ')" >&2
  done
  exit 1
fi
echo "check-glibc: ok: $bin needs at most GLIBC_$highest (floor $floor)"
