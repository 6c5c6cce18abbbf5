"""`mallee image build-default` (also `python -m mallee.images build-default`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mallee.config import Settings
from mallee.images.default import build_default_image


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mallee image")
    sub = p.add_subparsers(dest="command", required=True)
    build = sub.add_parser(
        "build-default", help="build the default kernel, ramdisk and root disk (cached)"
    )
    build.add_argument(
        "--image-dir", type=Path, default=None, help="default: $MALLEE_IMAGE_DIR or <data>/images"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = p.parse_args(argv)
    started = time.monotonic()
    image = build_default_image(args.image_dir or Settings.from_env().image_dir, force=args.force)
    for role, path in (("kernel", image.kernel), ("ramdisk", image.ramdisk), ("root", image.root)):
        print(f"{role:8} {path} ({path.stat().st_size:,} bytes)")
    print(f"took {time.monotonic() - started:.2f}s")
    return 0
