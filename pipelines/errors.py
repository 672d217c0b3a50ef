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


class BadSetting(ValueError):
    """A setting (a `train` keyword, a command-line option) with a value that cannot work. The
    command line reports it as click reports a bad option value (`Invalid value for
    '--label-names': ...`, exit status 2).

    Args:
        option: the command-line option (`--label-names`); the Python keyword is its name
            with underscores.
        message: what is wrong.
    """

    def __init__(self, option, message):
        self.option, self.message = option, message
        keyword = option.lstrip("-").replace("-", "_") if option else None
        super().__init__(f"{keyword}: {message}" if keyword else message)
