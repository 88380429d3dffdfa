"""`python -m genstyle.data.fetch`: make Fashion-MNIST available where Debian's package is not.

Uses the same lookup as training (data.root, $GENSTYLE_DATA, the Debian folder) and otherwise
downloads with torchvision into ./data; exits non-zero with the fixes when that is impossible.
"""

from __future__ import annotations

import sys

from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError


def main() -> int:
    try:
        for split in ("train", "test"):
            data = load_fashion_mnist(split, download_dir="data", download=True)
        print(f"Fashion-MNIST available in {data.origin}")
        return 0
    except GenstyleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
