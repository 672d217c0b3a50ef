"""Files a run writes: JSON and folders that appear whole or not at all, sha256 sums."""

import hashlib
import json
import os
import shutil


def write_json(path, record):
    """Writes JSON atomically: a temporary file renamed over `path`."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_atomically(out, write):
    """Runs `write(tmp)` for a temporary folder beside `out`, then renames it to `out`."""
    out = os.path.abspath(os.fspath(out))
    tmp = f"{out}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    if os.path.exists(out):
        old = f"{out}.old{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_folder(name_or_path):
    """The folder of a shipped model's name or a path; `DataError` listing the names if neither."""
    from pipelines.errors import DataError
    from zoo import registry

    try:
        return registry.model_dir(name_or_path)
    except FileNotFoundError as error:
        raise DataError(name_or_path, str(error)) from None


def stored_name(name_or_path):
    """How a model folder names another model it needs (a tagger its language models, an
    ensemble its members): a shipped name as it is, a folder by its absolute path."""
    from zoo import registry

    name = os.fspath(name_or_path)
    return name if name in registry.available() else os.path.abspath(name)
