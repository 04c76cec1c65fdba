"""Run every benchmark: `python -m bench` (or one: `python -m bench.compile`)."""

import runpy

runpy.run_module("bench.compile", run_name="__main__")
