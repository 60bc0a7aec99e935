"""``python -m convcli``: the same as the ``convcli`` command."""

from .cli import main

if __name__ == "__main__":
    main()
