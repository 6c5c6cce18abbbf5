"""One typed settings object. Every field can be set by an environment variable MALLEE_<FIELD>."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def _default_data_dir() -> Path:
    return Path(os.environ.get("MALLEE_DATA_DIR", Path.home() / ".local/share/mallee"))


@dataclass(slots=True)
class Settings:
    # Where the database, object data, instance disks and credentials live.
    data_dir: Path = field(default_factory=_default_data_dir)
    # SQLAlchemy URL of the state store; empty means SQLite in data_dir/mallee.db.
    db_url: str = ""
    # Address and port the api server listens on (8773 as Eucalyptus).
    host: str = "127.0.0.1"
    port: int = 8773
    # Port of the web console, on the same address (8888 as Eucalyptus' console); 0 serves no
    # console. Its own origin: S3 objects, served on `port`, never share its cookies.
    console_port: int = 8888
    # Seconds a request's head (request line and headers) may take to arrive in whole.
    header_timeout: int = 20
    # Seconds a request body may leave between two pieces; and in all, body_timeout seconds
    # plus one per KiB of the body (api/bodies.py). Then: RequestTimeout, connection closed.
    body_idle_timeout: int = 20
    body_timeout: int = 120
    # Region name the cloud reports and credential scopes must name.
    region: str = "eucalyptus"
    # DNS suffix for endpoint-per-host routing: iam.<domain>, ec2.<region>.<domain>, ...
    domain: str = "localhost"
    # Largest request body accepted outside object uploads (bytes).
    max_body: int = 10 * 1024 * 1024
    # Allowed difference between a request's signing time and ours (seconds), as AWS.
    clock_skew: int = 15 * 60
    # Seconds after which a component that stopped heartbeating shows NOTREADY.
    heartbeat_timeout: int = 30
    # Name of this api process in the service registry (user-api type).
    service_name: str = ""
    # The one availability zone of a cloud-in-a-box (Eucalyptus: the cluster's partition).
    zone: str = "one"
    # Hypervisor for `mallee node`: auto (KVM when a probe boots, else TCG), kvm, tcg, or
    # fake (no VMs: scale simulation and control-plane tests only).
    hypervisor: str = "auto"
    # Name of this node in the service registry; defaults to node-<hostname>.
    node_name: str = ""
    # Private subnet of this node's bridge (EDGE: flat L3 routes between node subnets).
    node_subnet: str = "10.111.1.0/24"
    # This node's address on the public network (network_config.py); one per node.
    node_public_ip: str = "203.0.113.11"
    # Resources a node offers; 0 means what the host has (cores: 4 per host core, since idle
    # TCG guests use little CPU; Eucalyptus' MAX_CORES overcommit).
    node_cores: int = 0
    node_memory_mb: int = 0
    node_disk_gb: int = 0
    # Where the default image (eki/eri/emi) is built and cached.
    image_dir: Path = field(default_factory=lambda: _default_data_dir() / "images")

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'mallee.db'}"

    def to_env(self) -> dict[str, str]:
        """MALLEE_* variables that make `from_env` in a child process give these settings."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f"MALLEE_{f.name.upper()}"] = (
                ("true" if value else "false") if isinstance(value, bool) else str(value)
            )
        return out

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        s = cls()
        for f in fields(cls):
            env = os.environ.get(f"MALLEE_{f.name.upper()}")
            if env is not None:
                current = getattr(s, f.name)
                value: object = env
                if isinstance(current, bool):
                    value = env.lower() in ("1", "true", "yes")
                elif isinstance(current, int):
                    value = int(env)
                elif isinstance(current, Path):
                    value = Path(env)
                setattr(s, f.name, value)
        for key, value in overrides.items():
            if value is not None:
                setattr(s, key, value)
        return s
