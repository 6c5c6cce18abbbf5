"""`mallee image build-default`: build (or confirm the cache of) the default image."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mallee.images.default import build_default_image


def _default_dir() -> Path:
    data = Path(os.environ.get("MALLEE_DATA_DIR", Path.home() / ".local/share/mallee"))
    return Path(os.environ.get("MALLEE_IMAGE_DIR", data / "images"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mallee image")
    sub = p.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-default", help="build the default eki/eri/emi (cached)")
    build.add_argument("--image-dir", type=Path, default=None)
    build.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    image = build_default_image(args.image_dir or _default_dir(), force=args.force)
    print(f"kernel {image.kernel}\nramdisk {image.ramdisk}\nroot {image.root}")
    return 0
