"""Cloud-in-a-box (Eucalyptus Faststart): one command sets up and runs the whole cloud here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from mallee.cli.run import run_api
from mallee.config import Settings
from mallee.images.default import build_default_image
from mallee.services.ec2.images import register_local_image
from mallee.services.ec2.instance_types import ensure_instance_types
from mallee.services.iam.bootstrap import ensure_system_account, system_account_id
from mallee.store import Store


def write_credentials(settings: Settings, access_key: str, secret_key: str) -> Path:
    """eucarc (euca2ools) and an AWS shared-credentials profile for the cloud admin."""
    creds = settings.data_dir / "credentials"
    creds.mkdir(parents=True, exist_ok=True)
    os.chmod(creds, 0o700)
    base = f"http://{settings.host}:{settings.port}"
    eucarc = creds / "eucarc"
    eucarc.write_text(
        f"export EC2_URL={base}/services/compute\n"
        f"export S3_URL={base}/services/objectstorage\n"
        f"export EUARE_URL={base}/services/Euare\n"
        f"export TOKEN_URL={base}/services/Tokens\n"
        f"export AWS_AUTO_SCALING_URL={base}/services/AutoScaling\n"
        f"export AWS_CLOUDFORMATION_URL={base}/services/CloudFormation\n"
        f"export AWS_CLOUDWATCH_URL={base}/services/CloudWatch\n"
        f"export AWS_ELB_URL={base}/services/LoadBalancing\n"
        f"export EUCA_PROPERTIES_URL={base}/services/Empyrean\n"
        f"export EC2_ACCESS_KEY={access_key}\n"
        f"export EC2_SECRET_KEY={secret_key}\n"
        f"export AWS_ACCESS_KEY_ID={access_key}\n"
        f"export AWS_SECRET_ACCESS_KEY={secret_key}\n"
        f"export AWS_DEFAULT_REGION={settings.region}\n"
        f"export AWS_ENDPOINT_URL={base}\n"
    )
    (creds / "aws-credentials").write_text(
        f"[mallee-admin]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"
    )
    for f in creds.iterdir():
        os.chmod(f, 0o600)
    return eucarc


def register_default_image(store: Store, settings: Settings) -> str:
    """Build (cached) and register the default eki/eri/emi, owned by the eucalyptus account."""
    image = build_default_image(settings.image_dir)
    owner = system_account_id(store)
    kernel = register_local_image(
        store, owner, name="mallee-default-kernel", path=image.kernel, image_type="kernel"
    )
    ramdisk = register_local_image(
        store, owner, name="mallee-default-ramdisk", path=image.ramdisk, image_type="ramdisk"
    )
    return register_local_image(
        store,
        owner,
        name="mallee-default",
        path=image.root,
        image_type="machine",
        kernel_id=kernel,
        ramdisk_id=ramdisk,
    )


def start_components(settings: Settings) -> list[subprocess.Popen[bytes]]:
    """The controller and this host's node agent, as child processes of `mallee up`."""
    env = dict(os.environ, **settings.to_env())
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children = []
    for component in ("controller", "node"):
        log = open(logs / f"{component}.log", "ab")  # noqa: SIM115 - the child owns it
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "mallee", component],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return children


def stop_components(children: list[subprocess.Popen[bytes]]) -> None:
    # SIGTERM: the node agent leaves its VMs running, to adopt them when it comes back.
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def init(settings: Settings) -> tuple[Path, str]:
    """Everything a new cloud needs before its components start; safe to repeat.

    Returns the admin's eucarc and the default machine image id.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        store.migrate()
        access_key, secret_key = ensure_system_account(store)
        ensure_instance_types(store)
        emi = register_default_image(store, settings)
    finally:
        store.dispose()
    return write_credentials(settings, access_key, secret_key), emi


def up(settings: Settings) -> int:
    eucarc, emi = init(settings)
    children = start_components(settings)
    print(
        f"mallee cloud-in-a-box on http://{settings.host}:{settings.port}\n"
        f"  admin credentials: source {eucarc}\n"
        f"  default image: {emi}\n"
        f"  try: source {eucarc} && aws ec2 run-instances --image-id {emi}\n",
        flush=True,
    )
    # uvicorn re-raises the SIGTERM it handled once it has shut down; this handler turns that
    # into an exit that still stops the controller and the node agent below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return run_api(settings)
    finally:
        stop_components(children)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
