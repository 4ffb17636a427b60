"""`python -m utils.course ...`: the course runner (utils.course.runner)."""

import sys

from utils.course.runner import main

if __name__ == "__main__":
    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(f"\n{exc.code}", file=sys.stderr)
            sys.exit(1)
        raise
