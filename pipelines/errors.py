"""`DataError`: bad input, reported as one line naming the file and line (`file.conll:17: ...`)."""


class DataError(ValueError):
    """Bad input data. The command line prints `str(error)` and exits with status 2.

    Args:
        path: the file (or source name) at fault.
        message: what is wrong, in a few words.
        line: 1-based line number, when the fault is on one line.
    """

    def __init__(self, path, message, line=None):
        self.path = str(path)
        self.line = line
        # one line, whatever the message quotes from the file
        message = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in message)
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")
