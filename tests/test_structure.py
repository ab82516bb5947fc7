"""Architecture rules a future change could silently break."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_service_module_imports_influxdb_client():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in ("devices", "iotcenter")
        for path in (ROOT / package).rglob("*.py")
        if "influxdb_client" in _imports(path)
    )
    assert importers
    assert all(path.startswith("devices/influx/") for path in importers), importers


def test_the_local_server_does_not_depend_on_django_or_the_app():
    for path in (ROOT / "localinflux").rglob("*.py"):
        assert not {"django", "devices", "iotcenter"} & _imports(path), path
