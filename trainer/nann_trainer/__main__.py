"""``python3 -m nann_trainer <command> [options]``: the trainer's command line (``./nann trainer …``).

    python3 -m nann_trainer --help            the commands
    python3 -m nann_trainer train --help      one command's options
"""
import argparse
import importlib
import sys

from nann_trainer.cli import COMMANDS

PROG = "python3 -m nann_trainer"


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="nann reference trainer: train, export and tabulate scorers.",
                                 epilog=f"'{PROG} <command> --help' shows a command's options.")
    sub = ap.add_subparsers(dest="command", metavar="<command>", title="commands", required=True)
    for name, (_module, summary) in COMMANDS.items():
        # a stub: the command's own parser (built below, after its module is imported) reads the rest
        sub.add_parser(name, help=summary, add_help=False)
    args = sys.argv[1:] if argv is None else list(argv)
    ns, rest = ap.parse_known_args(args)
    module = importlib.import_module(f"nann_trainer.cli.{COMMANDS[ns.command][0]}")
    parser = argparse.ArgumentParser(prog=f"{PROG} {ns.command}", description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    parsed = parser.parse_args(rest)
    try:
        return module.run(parsed)
    except OSError as e:
        # a file that cannot be read or written: one line that says which, not a traceback
        what = {FileNotFoundError: "no such file or directory", PermissionError: "permission denied",
                IsADirectoryError: "is a directory, not a file", NotADirectoryError: "not a directory"}.get(type(e))
        print(f"{PROG} {ns.command}: {what}: {e.filename}" if what and e.filename else f"{PROG} {ns.command}: {e}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
