"""`python -m tools.client URL --hall ID ...`: the client without the `halls` wrapper (tests, thumbnails)."""

import argparse
import logging
import sys

from tools.client.command import add_client_arguments, client_command


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.client", description="The Panda3D hall client.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    add_client_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    return client_command(args)


if __name__ == "__main__":
    sys.exit(main())
