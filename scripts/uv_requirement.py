"""Print uv's pinned version and hashes from uv.lock as a pip requirement (--require-hashes).

setup.sh installs uv with it before the venv exists, so uv.lock stays the one place that
names a version.
"""

import sys
import tomllib
from pathlib import Path

lock = tomllib.loads((Path(__file__).resolve().parent.parent / "uv.lock").read_text())
(uv,) = [p for p in lock["package"] if p["name"] == "uv"]
files = [*uv.get("wheels", []), *([uv["sdist"]] if "sdist" in uv else [])]
hashes = " ".join(f"--hash={f['hash']}" for f in files)
sys.stdout.write(f"uv=={uv['version']} {hashes}\n")
