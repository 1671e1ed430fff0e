#!/usr/bin/env bash
# Shrinks the runtime virtualenv in the image's build stage: test suites, type stubs, source
# maps, headers, locale data Babel never serves here, and the pyarrow/IPython parts the study
# never imports. Debug symbols are stripped when binutils is available.
set -euo pipefail
venv=${1:?usage: prune-venv.sh VENV}
site=$(echo "$venv"/lib/python3*/site-packages)

find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find "$site" -type f \( -name '*.pyi' -o -name '*.map' -o -name '*.pyx' -o -name '*.pxd' \) -delete
# C headers; an `include` that is a Python package (dbt.include) stays.
find "$site" -type d -name include -prune ! -exec test -e {}/__init__.py \; -exec rm -rf {} +
# Babel formats dates for dbt's agate tables; only English locales are used.
if [[ -d $site/babel/locale-data ]]; then
    find "$site/babel/locale-data" -type f ! -name 'en.dat' ! -name 'en_US.dat' ! -name 'en_001.dat' ! -name 'root.dat' -delete
fi
# pyarrow: Flight RPC and the S3 filesystem are optional extensions that `import pyarrow`
# does not load (libarrow_python links neither).
rm -f "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/libarrow_python_flight.so* \
      "$site"/pyarrow/_flight*.so "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_s3fs*.so \
      "$site"/pyarrow/_pyarrow_cpp_tests*.so
# sqlglot is mypyc-compiled (sqlglotc, ~50 MB of .so beside the .py sources); dagster-dbt
# only parses a little SQL with it, and Python falls back to the shipped sources.
find "$site/sqlglot" -name '*.so' -delete 2>/dev/null || true
rm -rf "$site"/sqlglotc-*.dist-info
# IPython's completer (jedi) only serves an interactive shell.
rm -rf "$site"/jedi "$site"/jedi-*.dist-info
if command -v strip >/dev/null; then
    # Libraries vendored by auditwheel (*.libs/) are patchelf-edited and break when stripped.
    find "$site" -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} + 2>/dev/null || true
fi
# Wheels carry versioned library names (libfoo.so, .so.N, .so.N.M) as separate copies.
python3 - "$site" <<'PY'
import hashlib, os, sys
seen = {}
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        if os.path.islink(path) or os.path.getsize(path) < 1 << 20:
            continue
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest in seen:
            os.unlink(path)
            os.link(seen[digest], path)
        else:
            seen[digest] = path
PY
du -sh "$venv"
