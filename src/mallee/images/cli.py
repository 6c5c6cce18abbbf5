"""`mallee image build-default|build-debian` (also `python -m mallee.images ...`)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from mallee.config import Settings
from mallee.images.debian import DebianImage, build_debian_image
from mallee.images.default import build_default_image

# Registers a built Debian image in the cloud and returns its emi; the cli layer supplies it
# (registering is the EC2 service's business, below which this package sits).
Register = Callable[[DebianImage], str]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mallee image")
    sub = p.add_subparsers(dest="command", required=True)
    default = sub.add_parser(
        "build-default", help="build the default kernel, ramdisk and root disk (cached)"
    )
    debian = sub.add_parser(
        "build-debian",
        help="build Debian 12 with systemd and cloud-init from deb.debian.org (cached; minutes)",
    )
    debian.add_argument(
        "--register",
        action="store_true",
        help="register it (kernel, ramdisk, machine image) in this host's cloud, as public",
    )
    for build in (default, debian):
        build.add_argument(
            "--image-dir",
            type=Path,
            default=None,
            help="default: $MALLEE_IMAGE_DIR or <data>/images (build-debian: .../debian-12)",
        )
        build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    return p


def main(argv: list[str] | None = None, register: Register | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build-debian" and args.register and register is None:
        raise SystemExit("mallee image: --register works through `mallee image`")
    started = time.monotonic()
    files: dict[str, Path]
    if args.command == "build-debian":
        image_dir = args.image_dir or Settings.from_env().image_dir / "debian-12"
        debian = build_debian_image(image_dir, force=args.force)
        files = {"kernel": debian.kernel, "ramdisk": debian.ramdisk, "root": debian.root,
                 "raw": debian.raw}  # fmt: skip
    else:
        image = build_default_image(
            args.image_dir or Settings.from_env().image_dir, force=args.force
        )
        files = {"kernel": image.kernel, "ramdisk": image.ramdisk, "root": image.root}
    for role, path in files.items():
        print(f"{role:8} {path} ({path.stat().st_size:,} bytes)")
    print(f"took {time.monotonic() - started:.2f}s")
    if args.command == "build-debian" and args.register and register is not None:
        print(f"registered {register(debian)}")
    return 0
