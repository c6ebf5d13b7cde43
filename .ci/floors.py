"""Print `name==floor` constraints for every runtime dependency of pyproject.toml (CI installs the lowest versions)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REQ = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def main() -> int:
    """Write the constraints to stdout; fail when a runtime dependency has no `>=` floor."""
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    missing = []
    for spec in project["dependencies"]:
        m = REQ.match(spec)
        if m is None:
            missing.append(spec)
            continue
        print(f"{m.group(1)}=={m.group(3)}")
    if missing:
        print(f"dependencies without a >= floor: {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
