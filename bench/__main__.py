"""Benchmarks, run on demand (never in CI); each writes or prints its section of BENCHMARKS.md.

.venv/bin/python -m bench                 the compiler benchmark (the quickest, ~1 min)
.venv/bin/python -m bench.compile         compiler: clean build, edit rebuild, sizes, budgets
.venv/bin/python -m bench.hub             WebSocket hub vs naive fan-out (needs both cores quiet)
.venv/bin/python bench/objects/run.py     object serving vs nginx (wrk)
.venv/bin/python bench/quiz/run.py        quiz attempts queued per second, forwarding throughput
.venv/bin/python bench/lrs/run.py         embedded LRS vs Ralph statement POSTs
.venv/bin/python bench/viewer/run.py      browser: first frame, bytes before it, walking with avatars
.venv/bin/python bench/client/run.py      Panda3D client: first frame, cold/warm cache, bam vs glb loads
.venv/bin/python bench/offline/run.py     browser: keeping each hall for offline, visits from the cache
"""

import runpy

runpy.run_module("bench.compile", run_name="__main__")
