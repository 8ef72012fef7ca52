"""Print the service's OpenAPI document: ``python -m trustaudit.service.openapi > docs/openapi.json``."""

from __future__ import annotations

import json
import sys
import tempfile


def main() -> None:
    from trustaudit.service.app import create_app
    from trustaudit.service.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        spec = create_app(Settings(data_dir=tmp)).openapi()  # type: ignore[arg-type]
    sys.stdout.write(json.dumps(spec, indent=2, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
