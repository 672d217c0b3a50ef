"""What the four task command lines share: options, error handling, sources, JSON output.

Bad input (`DataError`) ends a command with one line on stderr naming the file and line, and exit
status 2, as click's usage errors do; anything else is an internal error (status 1).
"""

import functools
import json
import os
import sys

import click

from pipelines.errors import DataError


class BadInput(click.ClickException):
    """A `DataError` as click reports it: `Error: file:line: message`, exit status 2."""

    exit_code = 2


def run(group):
    """Runs a command-line group as `python -m` does, with every usage error (an unknown
    option, a value out of range) on one line of stderr and exit status 2, like bad input."""
    try:
        code = group.main(standalone_mode=False)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else group.name
        click.echo(f"Error: {error.format_message()} (see {command} --help)", err=True)
        return 2
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return code if isinstance(code, int) else 0


def reports_bad_input(command):
    """Turns `DataError` raised by a command into `BadInput`."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DataError as error:
            raise BadInput(str(error)) from None

    return wrapper


def print_json(record):
    """One JSON object on one line of standard output."""
    click.echo(json.dumps(record, ensure_ascii=False))


def quiet_tensorflow():
    """TensorFlow's C++ chatter (oneDNN, CUDA stubs, cuInit) off unless the user asked for it
    (`TF_CPP_MIN_LOG_LEVEL` set lower): a command's stderr holds its own messages only, and bad
    input is one line. Imports TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        return
    # absl writes a few lines to stderr while TensorFlow's libraries load, before any log level
    # applies: load them with file descriptor 2 pointed at /dev/null
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tensorflow.get_logger().setLevel("ERROR")  # retracing notices and the like


def texts_from(texts, input_path):
    """The texts of `predict`: the arguments, else the lines of `--input FILE`, else stdin."""
    from pipelines.data.files import read_lines

    if texts:
        return list(texts)
    if input_path:
        return read_lines(input_path)
    if sys.stdin.isatty():
        raise click.UsageError("give texts as arguments, with --input FILE, or on standard input")
    return sys.stdin.read().splitlines()


def model_folder(name_or_path):
    """The folder of a shipped model's name or a path; `DataError` listing the names if neither."""
    from zoo import registry

    try:
        return registry.model_dir(name_or_path)
    except FileNotFoundError as error:
        raise DataError(name_or_path, str(error)) from None


# === Options shared by every task ===


def _split_cpu(ctx, param, value):
    """--cpu-replicas takes effect as it is parsed: before anything starts TensorFlow's devices."""
    if value:
        from pipelines.distribute import configure_cpu_replicas

        try:
            configure_cpu_replicas(value)
        except RuntimeError as error:
            raise click.BadParameter(str(error)) from None
    return value


def _expand_globs(ctx, param, value):
    """--train takes glob patterns (`data/part-*.csv.gz`): the files they match, sorted."""
    from pipelines.records import expand

    try:
        return tuple(expand(value))
    except DataError as error:
        raise click.BadParameter(str(error)) from None


def train_options(command):
    """The options every `train` verb takes (DESIGN: the command line)."""
    options = [
        click.option(
            "--train",
            "train_sources",
            multiple=True,
            required=True,
            callback=_expand_globs,
            help="Training data: a file, a glob pattern, a records folder (pipelines.records) "
            "or tfds:NAME[/CONFIG][:SPLIT] (repeatable).",
        ),
        click.option("--dev", "dev_source", help="Development data, for early stopping."),
        click.option(
            "--out", required=True, type=click.Path(file_okay=False), help="Model folder to write."
        ),
        click.option("--init", "init_model", help="Start from this model (name or path)."),
        click.option("--epochs", default=None, type=click.IntRange(1), help="Maximum epochs."),
        click.option("--batch-size", default=None, type=click.IntRange(1)),
        click.option("--learning-rate", default=None, type=click.FloatRange(0, min_open=True)),
        click.option(
            "--clip-norm",
            default=5.0,
            show_default=True,
            type=click.FloatRange(0),
            help="Gradient clipping by global norm (0: off).",
        ),
        click.option(
            "--patience",
            default=None,
            type=click.IntRange(1),
            help="Early stopping: epochs without a better dev metric.",
        ),
        click.option(
            "--lr-decay",
            default=None,
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Multiply the learning rate by this after each epoch whose dev metric is not "
            "the best so far (reduce on plateau).",
        ),
        click.option(
            "--average",
            default=None,
            type=click.IntRange(2),
            help="After every epoch also try the mean of the last N epochs' weights on the dev "
            "data (checkpoint averaging); kept when it is the best.",
        ),
        click.option(
            "--max-examples",
            default=None,
            type=click.IntRange(1),
            help="Use the first N examples of each source.",
        ),
        click.option("--seed", default=0, show_default=True, type=int),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue an interrupted run of the same command from its last epoch.",
        ),
        click.option(
            "--format", "data_format", default=None, help="Data format, if not from the extension."
        ),
        click.option(
            "--strategy",
            type=click.Choice(["default", "mirrored", "multi_worker"]),
            default="default",
            show_default=True,
            help="tf.distribute: one device, all local GPUs (or --cpu-replicas CPUs), or the "
            "workers named in TF_CONFIG.",
        ),
        click.option(
            "--cpu-replicas",
            type=click.IntRange(1, 64),
            default=None,
            callback=_split_cpu,
            help="With --strategy mirrored and no GPU: train on this many logical CPU devices.",
        ),
        click.option(
            "--precision",
            type=click.Choice(["float32", "mixed_bfloat16", "mixed_float16"]),
            default="float32",
            show_default=True,
            help="Keras mixed-precision policy (losses, softmaxes and the CRF stay float32).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def model_option(default):
    return click.option(
        "--model",
        default=default,
        show_default=True,
        help="A shipped model's name (see `zoo.available()`) or a model folder.",
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
max_examples_option = click.option("--max-examples", default=None, type=click.IntRange(1))


def command_line(task):
    """The running command as a user would type it: `python -m pipelines.<task> <verb>` and
    the options given (those that differ from their defaults), for model cards."""
    import shlex

    ctx = click.get_current_context()
    words = ["python", "-m", f"pipelines.{task}", ctx.info_name]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value == param.default or value is None or value == () or value is False:
            continue
        if isinstance(param, click.Argument):
            words += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
            continue
        name = max(param.opts, key=len)
        if param.is_flag:
            words.append(name)
        else:
            for item in value if param.multiple else [value]:
                words += [name, str(item)]
    return " ".join(shlex.quote(w) for w in words)
