#!/usr/bin/env bash
# Enforces the layer rules of DESIGN 3.2 by grepping includes: uv.h only in src/net, BoringSSL
# headers only in src/tls, nghttp2 only in the HTTP/2 engine's sources (src/http/h2_engine*.cc
# and its private h2_engine_impl.h, never its public header), yaml-cpp only in the config
# loader (src/config/load.cc, its topic files load_<topic>.cc and their private header
# load_internal.h, never load.h), and every include pointing down.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root/src"
fail=0
bad() { echo "layer rule: $*" >&2; fail=1; }

while IFS= read -r hit; do bad "uv.h outside src/net: $hit"; done < <(grep -rn '#include <uv.h>\|#include "uv.h"' --include='*.h' --include='*.cc' . | grep -v '^./net/' || true)
while IFS= read -r hit; do bad "BoringSSL outside src/tls: $hit"; done < <(grep -rn '#include [<"]openssl/' --include='*.h' --include='*.cc' . | grep -v '^./tls/' || true)
# nghttp2 stays behind http::H2Engine's pimpl: its public header names no nghttp2 type. The
# pimpl's own header (h2_engine_impl.h) is private to the engine's .cc files.
while IFS= read -r hit; do bad "nghttp2 outside src/http/h2_engine*.cc and h2_engine_impl.h: $hit"; done < <(grep -rn '#include [<"]nghttp2/' --include='*.h' --include='*.cc' . | grep -Ev '^\./http/h2_engine[a-z0-9_]*\.cc:|^\./http/h2_engine_impl\.h:' || true)
while IFS= read -r hit; do bad "h2_engine_impl.h outside the engine: $hit"; done < <(grep -rn '#include [<"]\(.*/\)\?h2_engine_impl\.h' --include='*.h' --include='*.cc' . | grep -Ev '^\./http/h2_engine[a-z0-9_]*\.cc:' || true)
loader_cc='^\./config/load(_[a-z0-9_]+)?\.cc:'
while IFS= read -r hit; do bad "yaml-cpp outside the config loader: $hit"; done < <(grep -rn '#include [<"]yaml-cpp/' --include='*.h' --include='*.cc' . | grep -Ev "$loader_cc|^\./config/load_internal\.h:" || true)
# load_internal.h carries yaml-cpp, so only the loader's own files may include it.
while IFS= read -r hit; do bad "load_internal.h outside the config loader: $hit"; done < <(grep -rn '#include [<"]\(.*/\)\?load_internal\.h' --include='*.h' --include='*.cc' . | grep -Ev "$loader_cc" || true)

# The proxy layer knows TLS only as base::TlsInfo values. Its includes may still pull tls/ headers
# in through net/ (the connection owns an engine), so the include check alone would not catch a
# use: look for the namespace itself.
while IFS= read -r hit; do bad "proxy names tls:: (use base::TlsInfo): $hit"; done < <(grep -rn 'tls::' --include='*.h' --include='*.cc' proxy | grep -v '^[^:]*:[0-9]*: *//' || true)

# The compression libraries stay behind http::Compressor (its header names none of their types).
while IFS= read -r hit; do bad "compression library outside src/http/compressor.cc: $hit"; done < <(grep -rn '#include [<"]\(zlib\.h\|zstd\.h\|brotli/\)' --include='*.h' --include='*.cc' . | grep -v '^\./http/compressor\.cc:' || true)

# Allowed includes per layer (DESIGN 3.2); server may include everything.
declare -A allowed=(
  [base]="base"
  [config]="config base"
  [http]="http base"
  [tls]="tls base"
  [net]="net tls base"
  [upstream]="upstream net tls http config base"
  [proxy]="proxy upstream net http config base"
  [admin]="admin upstream net http config base"
)
for layer in "${!allowed[@]}"; do
  [ -d "$layer" ] || continue
  while IFS=: read -r file _ inc; do
    dep=$(sed -E 's/.*#include "([a-z0-9_]+)\/.*/\1/' <<<"$inc")
    [[ " ${allowed[$layer]} " == *" $dep "* ]] || bad "$file includes $dep/ (not allowed from $layer/)"
  done < <(grep -rn '#include "[a-z0-9_]*/' --include='*.h' --include='*.cc' "$layer" || true)
done
[ "$fail" = 0 ] && echo "layer rules: ok"
exit "$fail"
