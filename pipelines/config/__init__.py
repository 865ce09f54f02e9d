"""params.yaml parsed once into frozen, typed objects that refuse unknown or missing keys.

`sections` holds the dataclasses (one per top-level key of params.yaml), `loader` the parser.
"""

from pipelines.config.loader import DEFAULT_PARAMS, PROJECT_ROOT, ConfigError, load_params, scenario
from pipelines.config.sections import (
    Alerts,
    Detection,
    FaultProfile,
    Features,
    Gate,
    Ingest,
    Live,
    Monitor,
    Params,
    Paths,
    Scenario,
    Serve,
    Simulation,
    Train,
    Validation,
)

__all__ = ["DEFAULT_PARAMS", "PROJECT_ROOT", "Alerts", "ConfigError", "Detection", "FaultProfile", "Features",
           "Gate", "Ingest", "Live", "Monitor", "Params", "Paths", "Scenario", "Serve", "Simulation", "Train",
           "Validation", "load_params", "scenario"]
