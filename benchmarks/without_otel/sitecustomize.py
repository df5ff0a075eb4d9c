"""Put on PYTHONPATH by scenario 10: this interpreter cannot import OpenTelemetry at all. The web
server started with it is "the same build without the SDK imported"; a server that tried to import
it (tracing off must not) would fail its first request instead of being measured."""

import sys


class _RefuseOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"{name}: OpenTelemetry is kept out of this interpreter (benchmarks scenario 10)")
        return None


sys.meta_path.insert(0, _RefuseOpenTelemetry())
