"""The child process that reads and checks a large bulk file for :meth:`BulkValidation.stream` (``process_path``).

``python -m cauri.disbursements.checker``: reads ``(path, options, copy, checks_known)`` pickled on stdin, writes
length-prefixed pickled messages on stdout (see :func:`cauri.disbursements.validation.check_in_child`). A module
of its own, so that the classes it sends are pickled under their real module, not ``__main__``.
"""

from __future__ import annotations

import pickle
import sys

from cauri.disbursements.validation import check_in_child


def main() -> None:
    path, options, copy, checks_known = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - our own parent
    check_in_child(path, options, sys.stdout.buffer, copy, checks_known)


if __name__ == "__main__":
    main()
