"""Fetch the web assets Great Expectations' Data Docs would load from CDNs, so the pages work offline.

    python infra/web_assets.py fetch    download what infra/web_assets.lock.json lists into vendor/web-assets/
    python infra/web_assets.py check    exit 1 unless every locked file is there

Each package comes from the npm registry as its tarball, checked against the locked sha512 integrity before
anything is extracted; only the listed files are kept (vendor/web-assets/<package>@<version>/<path>).
Standard library only: it runs before the environment exists. Idempotent: a package whose files are all
present is not downloaded again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "infra" / "web_assets.lock.json"
VENDOR = ROOT / "vendor" / "web-assets"


def _wanted(member: str, files: list[str]) -> str | None:
    """The path inside the package of a tarball member (npm packs under `package/`) if the lock lists it."""
    if not member.startswith("package/"):
        return None
    path = member.removeprefix("package/")
    return path if any(path == f or (f.endswith("/") and path.startswith(f)) for f in files) else None


def _present(folder: Path, files: list[str]) -> bool:
    return all((folder / f).is_dir() and any((folder / f).iterdir()) if f.endswith("/") else (folder / f).is_file()
               for f in files)  # fmt: skip


def fetch(quiet: bool = False) -> int:
    packages = json.loads(LOCK.read_text())["packages"]
    for name, spec in packages.items():
        folder = VENDOR / name
        if _present(folder, spec["files"]):
            continue
        if not quiet:
            print(f"web assets: fetching {name}")
        with urllib.request.urlopen(spec["tarball"], timeout=60) as response:
            blob = response.read()
        algo, _, expected = spec["integrity"].partition("-")
        actual = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
        if actual != expected:
            print(f"error: {name}: the tarball's {algo} is {actual}, the lock says {expected}", file=sys.stderr)
            return 1
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for member in tar.getmembers():
                path = _wanted(member.name, spec["files"])
                if path is None or not member.isfile() or ".." in Path(path).parts:
                    continue
                out = folder / path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(member).read())
        if not _present(folder, spec["files"]):
            print(f"error: {name}: the tarball lacks some of {spec['files']}", file=sys.stderr)
            return 1
    return 0


def check() -> int:
    missing = [n for n, s in json.loads(LOCK.read_text())["packages"].items() if not _present(VENDOR / n, s["files"])]
    if missing:
        print(f"missing web assets (run `make install`): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "fetch"
    if command not in ("fetch", "check"):
        sys.exit(__doc__)
    sys.exit(fetch(quiet="-q" in sys.argv) if command == "fetch" else check())
