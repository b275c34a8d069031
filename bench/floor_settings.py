"""Settings of the benchmark's floor server: the project's own settings and
middleware, with one URL that commits one single-row insert."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
