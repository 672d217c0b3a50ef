"""`python -m zoo.kernels`: build the kernel library now (it is otherwise built on first use).

Prints the library's path, or why it cannot be built, and exits 1 then.
"""

import sys

from zoo import kernels


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
