"""`python -m zoo.kernels`: build the kernel library now (it is otherwise built on first use).

Prints the library's path, or why it cannot be built, and exits 1 then.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads

from zoo import kernels  # noqa: E402


def main():
    try:
        path = kernels.build()
    except kernels.BuildError as error:
        print(f"zoo.kernels: cannot build: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
