"""``python -m contexture.choose``: rank contexts of a data file by tau (Eq. (4), Sec. 5.3)."""

from __future__ import annotations

import sys

from contexture.choose.cli import main

if __name__ == "__main__":
    sys.exit(main())
