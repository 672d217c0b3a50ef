"""What the four task command lines share: options, error handling, sources, JSON output.

Bad input (`DataError`) ends a command with one line on stderr naming the file and line, and exit
status 2, as click's usage errors do; anything else is an internal error (status 1).
"""

import dataclasses
import functools
import json
import os
import sys

import click

from pipelines.errors import BadSetting, DataError


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
    """Turns `DataError` raised by a command into `BadInput`, and `BadSetting` into click's
    report of a bad option value."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DataError as error:
            raise BadInput(str(error)) from None
        except BadSetting as error:
            raise click.BadParameter(error.message, param_hint=error.option) from None

    return wrapper


def echo_err(message):
    click.echo(message, err=True)


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
    """The texts of `predict`: the arguments, else the lines of `--input FILE`, else stdin.
    Arguments are texts even where they name a file (a note on stderr says how to read it)."""
    from pipelines.data.files import read_lines

    if texts and input_path:
        raise click.UsageError("give texts as arguments or with --input FILE, not both")
    if texts:
        for text in texts:
            if os.path.isfile(text):
                click.echo(
                    f"note: {text!r} is read as text; --input {text} reads the file", err=True
                )
        return list(texts)
    if input_path:
        return read_lines(input_path)
    if sys.stdin.isatty():
        raise click.UsageError("give texts as arguments, with --input FILE, or on standard input")
    return sys.stdin.read().splitlines()


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
    from pipelines.data.records import expand

    try:
        return tuple(expand(value))
    except DataError as error:
        raise click.BadParameter(str(error)) from None


def setting(settings, *names, **kwargs):
    """A `click.option` for a field of a settings dataclass: the default (shown by `--help`)
    is the dataclass's, the parameter name the field's."""
    field = kwargs.pop("field", None) or max(names, key=len).lstrip("-").replace("-", "_")
    default = next(f.default for f in dataclasses.fields(settings) if f.name == field)
    if kwargs.get("is_flag"):
        return click.option(*names, field, **kwargs)
    return click.option(*names, field, default=default, show_default=default is not None, **kwargs)


def awd_options(settings):
    """--weight-dropout and --embedding-dropout (AWD-LSTM), for a task whose settings default
    them to None: off for a new model, the initial model's own with --init."""
    rate = click.FloatRange(0, 1, max_open=True)
    options = [
        setting(
            settings,
            "--weight-dropout",
            type=rate,
            help="AWD-LSTM: DropConnect rate on the recurrent kernels.  [default: 0; with "
            "--init the model's own]",
        ),
        setting(
            settings,
            "--embedding-dropout",
            type=rate,
            help="AWD-LSTM: rate of word types dropped from a batch's embeddings.  [default: "
            "0; with --init the model's own]",
        ),
    ]
    return lambda command: functools.reduce(lambda c, o: o(c), reversed(options), command)


def train_options(settings):
    """The options every `train` verb takes (DESIGN: the command line), defaults from the
    task's settings dataclass."""
    options = _data_options(settings) + _run_options(settings)
    return lambda command: functools.reduce(lambda c, o: o(c), reversed(options), command)


def _data_options(settings):
    """--train, --dev, --out, --init and the optimisation options."""
    return [
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
        setting(settings, "--init", help="Start from this model (name or path)."),
        setting(settings, "--epochs", type=click.IntRange(1), help="Maximum epochs."),
        setting(settings, "--batch-size", type=click.IntRange(1)),
        setting(settings, "--learning-rate", type=click.FloatRange(0, min_open=True)),
        setting(
            settings,
            "--clip-norm",
            type=click.FloatRange(0),
            help="Gradient clipping by global norm (0: off).",
        ),
        setting(
            settings,
            "--patience",
            type=click.IntRange(1),
            help="Early stopping: epochs without a better dev metric.",
        ),
        setting(
            settings,
            "--lr-decay",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Multiply the learning rate by this after each epoch whose dev metric is not "
            "the best so far (reduce on plateau).",
        ),
        setting(
            settings,
            "--average",
            type=click.IntRange(2),
            help="After every epoch also try the mean of the last N epochs' weights on the dev "
            "data (checkpoint averaging); kept when it is the best. Without --dev the model is "
            "the mean of the last N epochs.",
        ),
        setting(
            settings,
            "--max-examples",
            type=click.IntRange(1),
            help="Use the first N examples of each source.",
        ),
    ]


def _run_options(settings):
    """Seeds, --resume, the data format, the strategy and the precision."""
    return [
        setting(settings, "--seed", type=int),
        setting(
            settings,
            "--resume",
            is_flag=True,
            help="Continue an interrupted run of the same command from its last epoch.",
        ),
        setting(
            settings,
            "--format",
            field="data_format",
            help="Data format, if not from the extension.",
        ),
        setting(
            settings,
            "--strategy",
            type=click.Choice(["default", "mirrored", "multi_worker"]),
            help="tf.distribute: one device, all local GPUs (or --cpu-replicas CPUs), or the "
            "workers named in TF_CONFIG.",
        ),
        setting(
            settings,
            "--cpu-replicas",
            type=click.IntRange(1, 64),
            callback=_split_cpu,
            help="With --strategy mirrored and no GPU: train on this many logical CPU devices.",
        ),
        setting(
            settings,
            "--precision",
            type=click.Choice(["float32", "mixed_bfloat16", "mixed_float16"]),
            help="Keras mixed-precision policy (losses, softmaxes and the CRF stay float32).",
        ),
    ]


def train(task_train, name, train_sources, dev_source, out, settings):
    """A `train` verb's body: runs the task's `train` with the command line as the card's
    command and progress on stderr, then prints the run's summary."""
    command = command_line(name).replace(" --resume", "")
    trained = task_train(
        list(train_sources), dev=dev_source, out=out, log=echo_err, command=command, **settings
    )
    print_json(trained.summary)


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


def add_export(group, load, default_model, help):
    """Adds the `export` verb every task has to a command group: `export [--model MODEL]
    --out DIR` writes the model's SavedModel (`load(model).export(out)`)."""

    @group.command(help=help)
    @model_option(default_model)
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @reports_bad_input
    def export(model, out):
        load(model).export(out)
        click.echo(f"SavedModel written to {out}", err=True)

    return export


def texts_options(command):
    """`TEXT ...` and `--input FILE`: the texts of `predict`-like verbs (`texts_from`)."""
    command = click.option(
        "--input", "input_path", type=click.Path(dir_okay=False), help="One text per line."
    )(command)
    return click.argument("texts", nargs=-1)(command)


def print_metrics(metrics, as_json):
    """An `evaluate` verb's output: the JSON object, or `name value` pairs on one line."""
    if as_json:
        print_json(metrics)
    else:
        click.echo(
            " ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
            )
        )


def add_ensemble(group, make_ensemble, module, kind, help):
    """Adds `ensemble --model MODEL --with OTHER [--with ...] --out DIR [--float16]` to a
    command group: `make_ensemble(model, members, out, float16, command)` writes one model
    made of several (`module`: the group's `python -m` name, for the card's command)."""

    @group.command(help=help)
    @click.option("--model", required=True, help=f"A {kind} (a shipped name or a folder).")
    @click.option(
        "--with",
        "members",
        multiple=True,
        required=True,
        help=f"Another {kind} with the same vocabularies (repeat for more).",
    )
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @click.option("--float16", is_flag=True, help="Store the weights as float16 (half the size).")
    @reports_bad_input
    def ensemble(model, members, out, float16):
        command = f"python -m {module} ensemble --model {model}"
        command += "".join(f" --with {m}" for m in members) + f" --out {out}"
        made = make_ensemble(model, members, out, float16, command + " --float16" * float16)
        click.echo(f"an ensemble of {len(made.model.members)} {kind}s written to {out}", err=True)

    return ensemble
