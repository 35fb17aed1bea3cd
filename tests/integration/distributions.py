"""Real installed distributions for tests: a wheel built here, installed by pip.

Why: third-party apps (wagtail, django-taggit, …) ship their migrations inside
an installed distribution, and an upgrade may rewrite them.  migtool tells such
apps from the project's own by the files pip records for a distribution
(``RECORD``), so the tests install a real wheel with the real pip, into a
directory of their own (``--target``) that the project's processes get on
their ``PYTHONPATH``: the test virtualenv is never touched.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path


def build_wheel(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` holding ``files`` (path -> text) and its metadata."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: migtool-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist_info}/top_level.txt": "".join(sorted({p.split("/")[0] + "\n" for p in files})),
    }
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def pip_install(wheel: Path, target: Path) -> None:
    """Install (or upgrade to) ``wheel`` into ``target`` with pip, offline."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--upgrade"]
        + ["--disable-pip-version-check", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
