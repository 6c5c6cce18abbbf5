"""Cloud-in-a-box (Eucalyptus Faststart): one command sets up and runs the whole cloud here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from mallee.cli import prereqs
from mallee.cli.run import run_api
from mallee.cloud_identity import system_account_id
from mallee.config import Settings
from mallee.datadir import make_private
from mallee.images.default import build_default_image, default_image_paths
from mallee.registry import components
from mallee.services.ec2.images import register_local_image
from mallee.services.ec2.instance_types import ensure_instance_types
from mallee.services.iam.bootstrap import (
    DemoAccount,
    ensure_demo_account,
    ensure_system_account,
    ensure_system_console_login,
)
from mallee.store import Store


def _eucarc(settings: Settings, access_key: str, secret_key: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return (
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


def _private(path: Path, text: str) -> None:
    # Created owner-only: written first and chmodded after, the keys would be readable between.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _console_login(path: Path, account: str, password: str | None) -> None:
    if password is not None:
        _private(path, f"account: {account}\nuser: admin\npassword: {password}\n")


def write_credentials(
    settings: Settings,
    access_key: str,
    secret_key: str,
    demo: DemoAccount | None = None,
    admin_password: str | None = None,
) -> Path:
    """eucarc files (euca2ools) and AWS CLI profiles: the cloud admin's, and the demo
    account's in credentials/demo/; each with its console password when it was just made."""
    creds = settings.data_dir / "credentials"
    creds.mkdir(parents=True, exist_ok=True)
    os.chmod(creds, 0o700)
    eucarc = creds / "eucarc"
    _private(eucarc, _eucarc(settings, access_key, secret_key))
    _console_login(creds / "console-login", "eucalyptus", admin_password)
    profiles = (
        f"[mallee-admin]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"
    )
    if demo is not None:
        profiles += (
            f"\n[mallee-demo]\naws_access_key_id = {demo.access_key}\n"
            f"aws_secret_access_key = {demo.secret_key}\n"
        )
        demo_dir = creds / "demo"
        demo_dir.mkdir(exist_ok=True)
        os.chmod(demo_dir, 0o700)
        _private(demo_dir / "eucarc", _eucarc(settings, demo.access_key, demo.secret_key))
        _console_login(demo_dir / "console-login", "demo", demo.new_password)
    _private(creds / "aws-credentials", profiles)
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
    """The controller, this host's node agent and storage controller, as child processes of
    `mallee up`."""
    env = dict(os.environ, **settings.to_env())
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children = []
    for component in ("controller", "node", "storage"):
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


def init(settings: Settings, say: Callable[[str], None] = lambda _: None) -> tuple[Path, str]:
    """Everything a new cloud needs before its components start; safe to repeat.

    Returns the admin's eucarc and the default machine image id.
    """
    make_private(settings.data_dir)
    store = Store(settings.database_url)
    try:
        say("database")
        store.migrate()
        access_key, secret_key = ensure_system_account(store)
        admin_password = ensure_system_console_login(store)
        demo = ensure_demo_account(store)
        ensure_instance_types(store)
        if default_image_paths(settings.image_dir) is None:
            say("building the default image from Debian packages (first start only, ~1 min)")
        emi = register_default_image(store, settings)
    finally:
        store.dispose()
    return write_credentials(settings, access_key, secret_key, demo, admin_password), emi


SERVICES = ("user-api", "objectstorage", "controller", "node", "storage")


def pid_file(settings: Settings) -> Path:
    return settings.data_dir / "mallee-up.pid"


def running_pid(settings: Settings) -> int | None:
    try:
        pid = int(pid_file(settings).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    """Running, and not a zombie (an exited `mallee up` its parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def up(settings: Settings) -> int:
    started = time.monotonic()
    say = _progress(started)
    other = running_pid(settings)
    if other is not None:
        print(f"mallee up: already running (pid {other}); `mallee down` stops it.", file=sys.stderr)
        return 1
    found = prereqs.problems(settings.host, settings.port, with_node=settings.hypervisor != "fake")
    console = settings.console_port
    if console and console != settings.port and not prereqs.port_free(settings.host, console):
        found.append(
            f"port {console} on {settings.host} (the web console's) is in use: stop what uses"
            " it, or start with --console-port N."
        )
    if found:
        for problem in found:
            print(f"mallee up: {problem}", file=sys.stderr)
        return 2
    eucarc, emi = init(settings, say)
    say("starting the api, the object storage gateway, the controller and a node")
    children = start_components(settings)
    pid_file(settings).write_text(f"{os.getpid()}\n")
    threading.Thread(
        target=_announce, args=(settings, eucarc, emi, started, say), daemon=True
    ).start()
    # uvicorn re-raises the SIGTERM it handled once it has shut down; this handler turns that
    # into an exit that still stops the controller and the node agent below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return run_api(settings)
    finally:
        stop_components(children)
        pid_file(settings).unlink(missing_ok=True)


def _progress(started: float) -> Callable[[str], None]:
    def say(step: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {step}", flush=True)

    return say


def _announce(
    settings: Settings, eucarc: Path, emi: str, started: float, say: Callable[[str], None]
) -> None:
    """Wait until every service is ENABLED, then say where everything is."""
    store = Store(settings.database_url)
    seen: set[str] = set()
    # Heartbeats from before this start (a previous run) do not count.
    since = time.time() - (time.monotonic() - started)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            enabled = {
                r.type
                for r in components.list_services(store)
                if r.state == "ENABLED" and (r.last_heartbeat or 0) >= since
            }
            if not _answers(settings):
                enabled.discard("user-api")
            for service in SERVICES:
                if service in enabled and service not in seen:
                    seen.add(service)
                    say(f"{service} ENABLED")
            if seen >= set(SERVICES):
                break
            time.sleep(0.3)
        else:
            missing = ", ".join(s for s in SERVICES if s not in seen)
            say(f"still waiting for {missing}: see {settings.data_dir / 'logs'}")
            return
        networks = _networks(settings, store)
    finally:
        store.dispose()
    creds = eucarc.parent
    print(
        f"\nmallee cloud-in-a-box is ready ({time.monotonic() - started:.1f} s)\n"
        f"  endpoint:        http://{settings.host}:{settings.port}\n"
        f"  web console:     {console_url(settings)}\n"
        f"  cloud admin:     source {eucarc} (console login: {creds / 'console-login'})\n"
        f"  demo account:    source {creds / 'demo' / 'eucarc'}"
        f" (console login: {creds / 'demo' / 'console-login'})\n"
        f"  AWS CLI:         AWS_SHARED_CREDENTIALS_FILE={creds / 'aws-credentials'}"
        " aws --profile mallee-demo ...\n"
        f"  default image:   {emi}\n"
        f"{networks}"
        "  stop with Ctrl-C or `mallee down`; `mallee up` again resumes with all state\n",
        flush=True,
    )


def _networks(settings: Settings, store: Store) -> str:
    """Where instances are reached from: namespaces named by the cloud's id and the node."""
    if settings.hypervisor == "fake":
        return ""
    from mallee.node.agent import node_name
    from mallee.node.network.identity import cloud_id
    from mallee.node.network.names import netns_for, public_netns_for

    cloud = cloud_id(store)
    return (
        f"  private IPs:     ip netns exec {netns_for(cloud, node_name(settings))} ssh|curl ...\n"
        f"  public IPs:      ip netns exec {public_netns_for(cloud)} ssh|curl ...\n"
    )


def console_url(settings: Settings) -> str:
    if not settings.console_port:
        return "not served (console port 0)"
    return f"http://{settings.host}:{settings.console_port}/console/"


def _answers(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://{settings.host}:{settings.port}/healthz", timeout=2
        ) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def down(settings: Settings, timeout: float = 60) -> int:
    pid = running_pid(settings)
    if pid is None:
        print("mallee down: mallee is not running here.", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            print("mallee stopped (running VMs are adopted by the next `mallee up`)")
            return 0
        time.sleep(0.2)
    print(f"mallee down: pid {pid} did not stop within {timeout:.0f} s.", file=sys.stderr)
    return 1


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
