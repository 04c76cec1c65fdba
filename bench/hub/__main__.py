"""`python -m bench.hub`: run the hub benchmark."""

from bench.hub.run import main

main()
