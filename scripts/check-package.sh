#!/usr/bin/env bash
# Builds the .deb from BUILD_DIR (cpack) and checks it as an installer would see it: its files,
# conffiles and Depends; the systemd unit (systemd-analyze verify); the shipped config
# (`portcullis -t`, with a throwaway certificate where the real one would be); the logrotate
# file (logrotate -d). Nothing is installed on this machine: the package is unpacked into a
# scratch directory. Exit 77 (CTest: skipped) when a tool it needs is missing.
# Usage: scripts/check-package.sh BUILD_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: check-package.sh BUILD_DIR}" && pwd)"

missing=()
for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze logrotate openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-package: skipped, missing ${missing[*]} (scripts/install-deps.sh installs them)"
  exit 77
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-pkg-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
fail=0
bad() { echo "check-package: $*" >&2; fail=1; }

# Into the scratch dir: a second cpack in the build dir (an engineer's `cpack -G DEB`) must not
# race this one over _CPack_Packages.
(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) || {
  cat "$scratch/cpack.log" >&2
  echo "check-package: cpack failed" >&2
  exit 1
}
arch="$(dpkg --print-architecture)"
debs=("$scratch"/out/portcullis_*_"$arch".deb)
[ -f "${debs[0]}" ] || { ls -l "$scratch/out" >&2; echo "check-package: no portcullis_<version>_$arch.deb" >&2; exit 1; }
deb="${debs[0]}"
echo "check-package: built $(basename "$deb")"

contents="$(dpkg-deb -c "$deb")"
for f in ./usr/bin/portcullis ./lib/systemd/system/portcullis.service ./etc/logrotate.d/portcullis \
         ./etc/portcullis/portcullis.yaml ./var/log/portcullis/ ./usr/share/doc/portcullis/README.md; do
  grep -qE " ${f//./\\.}( |$)" <<<"$contents" || bad "the package has no $f"
done
grep -qE '^-rwxr-xr-x .* \./usr/bin/portcullis$' <<<"$contents" || bad "/usr/bin/portcullis is not 0755"

info="$(dpkg-deb -I "$deb")"
conffiles="$(dpkg-deb -I "$deb" conffiles 2>/dev/null || true)"
for f in /etc/portcullis/portcullis.yaml /etc/logrotate.d/portcullis; do
  grep -qx "$f" <<<"$conffiles" || bad "$f is not a conffile (conffiles: ${conffiles:-none})"
done
depends="$(sed -n 's/^ Depends: //p' <<<"$info")"
for p in libuv1 libyaml-cpp0.7 libnghttp2-14 android-libboringssl adduser; do
  grep -qE "(^|, )$p( |,|$)" <<<"$depends" || bad "Depends lacks $p: $depends"
done
grep -q '^ Package: portcullis$' <<<"$info" || bad "package name is not portcullis"
for s in postinst prerm postrm; do
  script="$(dpkg-deb -I "$deb" "$s" 2>/dev/null)" || { bad "no $s maintainer script"; continue; }
  sh -n <<<"$script" || bad "$s: shell syntax error"
done

root="$scratch/root"
dpkg-deb -x "$deb" "$root"

# verify resolves ExecStart= on this machine, not in the package: check a copy whose paths
# point into the unpacked tree, under the real name (verify wants a known unit type).
mkdir -p "$scratch/unit"
sed "s|/usr/bin/portcullis|$root/usr/bin/portcullis|g" "$root/lib/systemd/system/portcullis.service" \
  >"$scratch/unit/portcullis.service"
if ! out="$(cd "$scratch/unit" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./portcullis.service 2>&1)"; then
  bad "systemd-analyze verify failed: $out"
elif [ -n "$out" ]; then
  # Exit 0 with complaints (unknown keys are only warnings to systemd): still wrong.
  bad "systemd-analyze verify: $out"
fi

# The shipped config, with a certificate where /etc/portcullis/tls/ would have the real one.
"$src/scripts/gen-dev-cert.sh" --force "$scratch/tls" >/dev/null 2>&1 || bad "gen-dev-cert.sh failed"
sed -e "s|/etc/portcullis/tls/fullchain.pem|$scratch/tls/dev-cert.pem|" \
    -e "s|/etc/portcullis/tls/privkey.pem|$scratch/tls/dev-key.pem|" \
    "$root/etc/portcullis/portcullis.yaml" >"$scratch/portcullis.yaml"
cmp -s "$scratch/portcullis.yaml" "$root/etc/portcullis/portcullis.yaml" && bad "the shipped config names no /etc/portcullis/tls/ certificate"
if ! out="$("$root/usr/bin/portcullis" -t -c "$scratch/portcullis.yaml" 2>&1)"; then
  bad "the unpacked portcullis -t rejects the shipped config: $out"
fi

# -d: parse and plan only (no rotation, no postrotate); errors make it exit non-zero. `su`
# names the user the postinst creates; where it does not exist (here), check with nobody.
grep -q '^\s*su portcullis portcullis$' "$root/etc/logrotate.d/portcullis" || bad "logrotate does not rotate as portcullis (su)"
lr="$root/etc/logrotate.d/portcullis"
if ! getent passwd portcullis >/dev/null; then
  sed 's/^\(\s*\)su portcullis portcullis$/\1su nobody nogroup/' "$lr" >"$scratch/logrotate.conf"
  lr="$scratch/logrotate.conf"
fi
if ! out="$(logrotate -d -s "$scratch/logrotate.state" "$lr" 2>&1)" ||
   grep -qi '^error' <<<"$out"; then
  bad "logrotate -d rejects etc/logrotate.d/portcullis: $out"
fi
grep -q 'USR1' "$root/etc/logrotate.d/portcullis" || bad "logrotate does not send SIGUSR1"

[ "$fail" = 0 ] && echo "check-package: ok"
exit "$fail"
