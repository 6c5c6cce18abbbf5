"""Cloud-in-a-box (Eucalyptus Faststart): one command sets up and runs the whole cloud here."""

from __future__ import annotations

import os
from pathlib import Path

from mallee.cli.run import run_api
from mallee.config import Settings
from mallee.services.iam.bootstrap import ensure_system_account
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


def up(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    store.migrate()
    access_key, secret_key = ensure_system_account(store)
    store.dispose()
    eucarc = write_credentials(settings, access_key, secret_key)
    print(
        f"mallee cloud-in-a-box on http://{settings.host}:{settings.port}\n"
        f"  admin credentials: source {eucarc}\n"
        f"  try: source {eucarc} && aws iam list-users\n",
        flush=True,
    )
    return run_api(settings)
