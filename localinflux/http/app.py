"""What every handler is given besides its request: the engine and its registry."""

from __future__ import annotations

import threading

from localinflux.engine import Engine


class App:
    """The state handlers work on; one per server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reg = engine.registry
        # Two racing setups: only the first one onboards.
        self.setup_lock = threading.Lock()
