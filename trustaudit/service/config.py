"""Service settings (from ``trustaudit serve`` options or environment variables)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from trustaudit.service.archive import Limits


@dataclass
class Settings:
    data_dir: Path
    database_url: str = ""
    workers: int = 2
    allow_unsafe_pickle: bool = False
    trusted_types: tuple[str, ...] = ()  # exact skops type names the operator trusts (--trust-type)
    max_upload_bytes: int = 100 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    executor: str = "local"  # or dask://HOST:PORT (trustaudit.service.dask_pool)
    connect_timeout_s: float = 10.0  # how long to wait for a Dask scheduler at startup
    start_workers: bool = True
    max_attempts: int = 2
    secret_key: str = ""

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if not self.database_url:
            from trustaudit.service.db import sqlite_url

            self.database_url = sqlite_url(self.data_dir)

    def prepare(self) -> None:
        """Create the data directory layout and the session signing key (kept in the data dir, mode 0600)."""
        for sub in ("jobs", "uploads"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        if not self.secret_key:
            key_file = self.data_dir / "secret.key"
            if not key_file.exists():
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
            self.secret_key = key_file.read_text().strip()


def default_data_dir() -> Path:
    return Path(os.environ.get("TRUSTAUDIT_DATA_DIR", "trustaudit-data"))
