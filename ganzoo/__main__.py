"""``python -m ganzoo``: the same command line as the ``ganzoo`` script."""

from .cli import main

if __name__ == "__main__":
    main()
