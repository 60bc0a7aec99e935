"""The one exception type for a user's mistake.

The library and the config/array readers raise :class:`ConvcliError`; the CLI
turns it into ``convcli: error: WHERE: WHAT`` and exit code 2 in one place.
The NumPy layer code raises plain ``ValueError`` (the notebook API's
contract); the CLI wraps those with the layer they came from.
"""

from __future__ import annotations


class ConvcliError(Exception):
    """Bad usage or bad input: a config, an array file, an option.

    ``where`` is the file and key path (``seed.yaml: layers[0].stride``), or
    the line and column of a YAML syntax error; ``what`` says what is wrong.
    """

    exit_code = 2

    def __init__(self, where: str, what: str):
        super().__init__(where, what)
        self.where = where
        self.what = what

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what
