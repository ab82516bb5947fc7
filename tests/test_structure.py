"""Architecture rules a future change could silently break."""

import ast
from pathlib import Path
from types import ModuleType

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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _app_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of the app that ``path`` imports (absolute or relative, at any depth)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target not in known or here.startswith(target + "."):
                continue  # not the app's, or this module's own package (already importing)
            found.add(target)
            # Importing a.b.c runs a and a.b first (unless they are this module's own packages).
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in known and not here.startswith(parent + ".") and parent != here:
                    found.add(parent)
    found.discard(here)
    return found


def test_the_app_has_no_import_circles():
    paths = [p for package in ("devices", "iotcenter") for p in (ROOT / package).rglob("*.py")]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _app_imports(p, known) for p in paths}
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError("import circle: " + " -> ".join([*trail, module]))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_service_exposes_exactly_its_public_names():
    from devices import influx

    assert sorted(influx.__all__) == sorted(PUBLIC_SERVICE_NAMES)
    exported = {
        name
        for name, value in vars(influx).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert exported == set(PUBLIC_SERVICE_NAMES)


# What views, the API and the commands may use of ``devices.influx``: reads (selectors), changes
# (services), the page deadline, the result types and the exceptions. A new name is a decision.
PUBLIC_SERVICE_NAMES = [
    # exceptions
    "InfluxError", "InfluxUnavailable", "InfluxMisconfigured", "DeviceNotFound", "DeviceExists",
    "InvalidDeviceId", "DeviceBusy",
    # result types and constants
    "Device", "DeviceCredentials", "DevicePage", "DeviceView", "Reading", "FieldStats",
    "SeriesPoint", "Check", "OrphanAuthorization", "RANGES", "DEFAULT_RANGE",
    "MEASUREMENT_INTERVAL_S", "CONFIG_REFRESH_S", "mask_token",
    # reads: the registry, telemetry
    "list_devices", "get_device", "device_view", "device_credentials", "registered_device_ids",
    "latest_readings", "field_stats", "telemetry_series", "last_telemetry",
    # changes: the registry
    "register_device", "rotate_token", "remove_device", "orphan_authorizations",
    "revoke_orphan_authorizations",
    # setup, checks, health, settings shown
    "onboard", "is_onboarded", "ensure_buckets", "health", "check_access", "masked_settings",
    "device_connection", "registry_shares_telemetry_bucket", "SHARED_BUCKET_WARNING",
    "ORPHANS_CHECK",
    # the client, the page deadline, writing as a device
    "reset_client", "page_deadline", "start_page_deadline", "end_page_deadline", "DeviceSession",
    "Fleet",
    # --- JSON API (iot-api-ui) ---
    "measurements_csv",
    # live pages: a device's dashboard over any range, the fleet overview
    "Dashboard", "TimeWindow", "dashboard", "FleetOverview", "fleet_overview",
    # the hourly rollup that long dashboard ranges read (``manage.py rollup``)
    "RollupPass", "rollup_pass", "rollup_since",
    # --- Alerts ---
    "WindowStats", "window_stats", "fleet_last_seen",
    # device data: the CSV download, "Write data now"
    "telemetry_csv", "write_simulated", "WRITE_NOW_MAX_DAYS",
]  # fmt: skip
