"""Every Flux query IoT Center sends, as named builders.

Rules that keep user input out of query code:

* device ids are checked against the id rules (``devices.ids.validate_device_id``) before any
  builder runs;
* every other string that ends up in a query (bucket names from settings, field names) goes
  through ``quote``, the one quoting function;
* durations and windows must look like Flux duration literals (``duration``).

OSS InfluxDB 2.7 has no ``params`` field in the query body, so values are embedded as properly
escaped Flux string literals.


One module per area: ``flux`` (shared literals and filters), ``registry``, ``telemetry``,
``pages``, ``dashboards``, ``fleet``, ``api``, ``alerts``. Callers use the names re-exported here;
the hourly rollup's builders are used as their module (``from devices.queries import rollup``).
"""

from .alerts import (
    ALERT_FIELD_RE,
    ALERT_WINDOW_RESULTS,
    alert_field,
    alert_last_seen,
    alert_window,
)
from .api import (
    MEASUREMENT_FUNCTIONS,
    measurements,
)
from .dashboards import (
    DASH_SERIES_RESULT,
    DASH_STATS,
    dashboard_data,
)
from .fleet import (
    FLEET_ACTIVE_RESULT,
    FLEET_DEVICE_HOUR_RESULT,
    FLEET_HOUR_RESULT,
    FLEET_LATEST_RESULT,
    FLEET_ONLINE_RESULT,
    FLEET_REGISTERED_RESULT,
    FLEET_SEEN_RESULT,
    FLEET_SILENT_RESULT,
    FLEET_SPARK_RESULT,
    SPARK_EVERY,
    SPARK_START,
    fleet_details,
    fleet_overview,
)
from .flux import (
    CLIENT_ID_TAG,
    DEVICE_TAG,
    DEVICE_TAGS,
    REGISTRY_MEASUREMENT,
    ROTATED_AT_FIELD,
    TELEMETRY_FIELDS,
    TELEMETRY_MEASUREMENT,
    duration,
    quote,
    time_literal,
)
from .pages import (
    PAGE_REGISTRY_RESULT,
    PAGE_TELEMETRY_RESULT,
    VIEW_LATEST_RESULT,
    VIEW_REGISTRY_RESULT,
    VIEW_SERIES_RESULT,
    device_view,
    list_page,
)
from .registry import (
    REGISTRY_PAGE_RESULT,
    REGISTRY_TOTAL_RESULT,
    registry_device,
    registry_list,
    registry_page,
)
from .telemetry import (
    field_stats,
    last_point_time,
    last_seen,
    latest_readings,
    probe,
    shared_device_tag,
    telemetry_delete_predicate,
    telemetry_delete_predicates,
    telemetry_series,
)

__all__ = [
    "ALERT_FIELD_RE",
    "ALERT_WINDOW_RESULTS",
    "CLIENT_ID_TAG",
    "DASH_SERIES_RESULT",
    "DASH_STATS",
    "DEVICE_TAG",
    "DEVICE_TAGS",
    "FLEET_ACTIVE_RESULT",
    "FLEET_DEVICE_HOUR_RESULT",
    "FLEET_HOUR_RESULT",
    "FLEET_LATEST_RESULT",
    "FLEET_ONLINE_RESULT",
    "FLEET_REGISTERED_RESULT",
    "FLEET_SEEN_RESULT",
    "FLEET_SILENT_RESULT",
    "FLEET_SPARK_RESULT",
    "MEASUREMENT_FUNCTIONS",
    "PAGE_REGISTRY_RESULT",
    "PAGE_TELEMETRY_RESULT",
    "REGISTRY_MEASUREMENT",
    "REGISTRY_PAGE_RESULT",
    "REGISTRY_TOTAL_RESULT",
    "ROTATED_AT_FIELD",
    "SPARK_EVERY",
    "SPARK_START",
    "TELEMETRY_FIELDS",
    "TELEMETRY_MEASUREMENT",
    "VIEW_LATEST_RESULT",
    "VIEW_REGISTRY_RESULT",
    "VIEW_SERIES_RESULT",
    "alert_field",
    "alert_last_seen",
    "alert_window",
    "dashboard_data",
    "device_view",
    "duration",
    "field_stats",
    "fleet_details",
    "fleet_overview",
    "last_point_time",
    "last_seen",
    "latest_readings",
    "list_page",
    "measurements",
    "probe",
    "quote",
    "registry_device",
    "registry_list",
    "registry_page",
    "shared_device_tag",
    "telemetry_delete_predicate",
    "telemetry_delete_predicates",
    "telemetry_series",
    "time_literal",
]
