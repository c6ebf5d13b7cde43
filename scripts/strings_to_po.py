"""Move Python dict string tables into the gettext catalogs (src/kefu/locale/*/LC_MESSAGES/messages.po).

    .venv/bin/python scripts/strings_to_po.py            # convert every src/kefu/web/strings_*.py, then delete it
    .venv/bin/python scripts/strings_to_po.py --keep     # convert but leave the modules in place
    .venv/bin/python scripts/strings_to_po.py --check    # exit 1 if a dict table is still waiting to be converted
    .venv/bin/python scripts/strings_to_po.py kefu.x.texts:TABLE=x_   # also convert one table elsewhere, keys
                                                                       # prefixed x_ (that module is left as is)

A table is a module-level dict whose values are (zh-TW, zh-CN, en) tuples, or {"zh-TW": …, "zh-CN": …, "en": …}
dicts. Idempotent: a key already in the catalogs with the same three texts is left alone; a key already there with
different text, or defined in two tables, is a conflict and nothing is written (exit 2). Catalogs are written
sorted by key, without line wrapping, so re-running produces byte-identical files.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.pofile import write_po  # noqa: E402

from kefu.core.catalog import DOMAIN, GETTEXT_DIRS, LOCALES, po_path, read_catalog  # noqa: E402

TABLE_DIR = SRC / "kefu" / "web"
TABLE_GLOB = "strings_*.py"
# Fixed header dates keep the output byte-identical between runs (git history says when a string changed).
_HEADER_DATE = datetime(2026, 12, 6, tzinfo=UTC)

Entries = dict[str, dict[str, str]]


class ConflictError(Exception):
    """A key defined twice with different text."""


def table_modules() -> list[str]:
    """Dotted names of the dict-table modules still under src/kefu/web."""
    return sorted(f"kefu.web.{p.stem}" for p in TABLE_DIR.glob(TABLE_GLOB))


def _entry(key: str, value: object, where: str) -> dict[str, str]:
    if isinstance(value, tuple) and len(value) == len(LOCALES) and all(isinstance(v, str) for v in value):
        return dict(zip(LOCALES, value, strict=True))
    if isinstance(value, Mapping) and set(value) == set(LOCALES) and all(isinstance(v, str) for v in value.values()):
        return {loc: str(value[loc]) for loc in LOCALES}
    raise ConflictError(f"{where}: {key!r} is not a (zh-TW, zh-CN, en) tuple or a per-locale dict: {value!r}")


def _is_table(value: object) -> bool:
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        return False
    first = next(iter(value.values()))
    return (isinstance(first, tuple) and len(first) == len(LOCALES)) or (
        isinstance(first, dict) and set(first) == set(LOCALES)
    )


def tables_in(module_name: str, attr: str | None = None, prefix: str = "") -> dict[str, Entries]:
    """The string tables a module defines, as {"module:ATTR": {prefix + key: {locale: text}}}."""
    module = importlib.import_module(module_name)
    names = [attr] if attr else [n for n in vars(module) if n.isupper() and _is_table(getattr(module, n))]
    found: dict[str, Entries] = {}
    for name in names:
        where = f"{module_name}:{name}"
        found[where] = {prefix + k: _entry(k, v, where) for k, v in getattr(module, name).items()}
    return found


def load_catalogs() -> Entries:
    """The catalogs as {key: {locale: text}} (missing files count as empty)."""
    merged: Entries = {}
    for loc in LOCALES:
        path = po_path(loc)
        for key, text in (read_catalog(path) if path.exists() else {}).items():
            merged.setdefault(key, {})[loc] = text
    return merged


def merge(catalogs: Entries, tables: Mapping[str, Entries]) -> tuple[list[str], list[str]]:
    """Add the tables' keys to `catalogs` in place; returns (added, unchanged); ConflictError lists all clashes."""
    clashes: list[str] = []
    origin: dict[str, str] = {}
    added: list[str] = []
    unchanged: list[str] = []
    for where, entries in tables.items():
        for key, texts in entries.items():
            if key in origin:
                clashes.append(f"{key!r} is defined in both {origin[key]} and {where}")
                continue
            origin[key] = where
            existing = catalogs.get(key)
            if existing is None:
                catalogs[key] = dict(texts)
                added.append(key)
            elif existing == texts:
                unchanged.append(key)
            else:
                diff = {loc: (existing.get(loc), texts[loc]) for loc in LOCALES if existing.get(loc) != texts[loc]}
                clashes.append(f"{key!r} from {where} differs from the catalog: {diff} (catalog, table)")
    if clashes:
        raise ConflictError("\n".join(clashes))
    return added, unchanged


def render(entries: Entries, locale: str) -> bytes:
    """One locale's .po file, sorted by key, unwrapped, with a fixed header."""
    catalog = Catalog(
        locale=GETTEXT_DIRS[locale],
        domain=DOMAIN,
        header_comment=f"# kefu UI strings ({locale}), written by hand for this locale; see docs/DEVELOPING.md.\n#",
        project="kefu",
        version="1",
        msgid_bugs_address="",
        last_translator="kefu developers",
        language_team=f"kefu {locale}",
        creation_date=_HEADER_DATE,
        revision_date=_HEADER_DATE,
        fuzzy=False,
    )
    for key in sorted(entries):
        text = entries[key].get(locale, "")
        message = catalog.add(key, text)
        if re.search(r"\{\w*\}", text):  # lets gettext tools check placeholders (Babel drops flags= here)
            message.flags.add("python-brace-format")
    buf = BytesIO()
    write_po(buf, catalog, width=0, no_location=True)
    # The Babel version line would make the output differ between machines with different Babel releases.
    return re.sub(rb'"Generated-By: [^"]*"\n', b"", buf.getvalue())


def write_catalogs(entries: Entries) -> list[Path]:
    """Write every locale's catalog; returns the files whose bytes changed."""
    changed = []
    for loc in LOCALES:
        path = po_path(loc)
        data = render(entries, loc)
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changed.append(path)
    return changed


def references(module_names: Iterable[str]) -> list[str]:
    """Lines under src/ and tests/ that still import a removed table module."""
    found = []
    for name in module_names:
        pattern = re.compile(rf"\b{re.escape(name)}\b|\bfrom kefu\.web import .*\b{name.rsplit('.', 1)[1]}\b")
        for base in (SRC, ROOT / "tests"):
            for path in base.rglob("*.py"):
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if pattern.search(line):
                        found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("extra", nargs="*", help="module:ATTR[=prefix] tables outside src/kefu/web to convert as well")
    parser.add_argument("--keep", action="store_true", help="do not delete converted strings_*.py modules")
    parser.add_argument("--check", action="store_true", help="only report whether dict tables are left")
    args = parser.parse_args(argv)

    modules = table_modules()
    if args.check:
        for name in modules:
            print(f"unconverted string table: {name} (run scripts/strings_to_po.py)")
        return 1 if modules else 0

    tables: dict[str, Entries] = {}
    for name in modules:
        tables |= tables_in(name)
    for spec in args.extra:
        module_name, _, rest = spec.partition(":")
        attr, _, prefix = rest.partition("=")
        tables |= tables_in(module_name, attr or None, prefix)

    catalogs = load_catalogs()
    try:
        added, unchanged = merge(catalogs, tables)
    except ConflictError as exc:
        print(f"key conflict, nothing written:\n{exc}", file=sys.stderr)
        return 2
    changed = write_catalogs(catalogs)
    print(f"{len(added)} keys added, {len(unchanged)} already in the catalogs, {len(changed)} catalog files written")

    if args.keep:
        return 0
    for name in modules:
        (TABLE_DIR / f"{name.rsplit('.', 1)[1]}.py").unlink()
        print(f"removed {name}")
    left = references(modules)
    if left:
        print("these lines still import a removed table; use kefu.web.i18n.translator() instead:", file=sys.stderr)
        print("\n".join(left), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
