"""Every ``./nann trainer ...`` command in the README and the docs still parses with the trainer's own
options (the other ``./nann`` commands are checked by the Java test DocsCommandsTest)."""
import argparse
import contextlib
import importlib
import io
import pathlib
import re
import shlex
import unittest

from nann_trainer.cli import COMMANDS

REPO = pathlib.Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*\./nann\s+trainer\s+(.*)$")


def documented_trainer_commands():
    pages = [REPO / "README.md", REPO / "k8s" / "README.md"] + sorted((REPO / "docs").rglob("*.md"))
    found = []
    for page in pages:
        in_block, lines = False, page.read_text(encoding="utf-8").split("\n")
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            if line.startswith("```"):
                in_block = not in_block
            elif in_block:
                start = i
                while line.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    line = line[:-1] + " " + lines[i].strip()
                m = COMMAND.match(line)
                if m:
                    words = shlex.split(m.group(1), comments=True)
                    for stop, w in enumerate(words):
                        if w in ("|", "&&", ";") or w.startswith(">"):
                            words = words[:stop]
                            break
                    kept = []
                    for w in words:   # an option whose value is a shell variable is left to the reader
                        if "$" in w:
                            if kept and kept[-1].startswith("--"):
                                kept.pop()
                        else:
                            kept.append(w)
                    if kept:
                        found.append((f"{page.relative_to(REPO)}:{start + 1}", kept))
            i += 1
    return found


class DocsCommandsTest(unittest.TestCase):
    def test_every_documented_trainer_command_parses(self):
        commands = documented_trainer_commands()
        self.assertGreater(len(commands), 5, "found too few: is the extraction broken?")
        failures = []
        for where, words in commands:
            name, args = words[0], words[1:]
            if name not in COMMANDS:
                failures.append(f"{where}: no trainer command '{name}'")
                continue
            module = importlib.import_module(f"nann_trainer.cli.{COMMANDS[name][0]}")
            parser = argparse.ArgumentParser(prog=name, exit_on_error=False)
            module.add_arguments(parser)
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    parser.parse_args(args)
            except (argparse.ArgumentError, SystemExit) as e:
                failures.append(f"{where}: ./nann trainer {' '.join(words)}: {e}")
        self.assertEqual([], failures)

    def test_a_stale_option_fails(self):
        module = importlib.import_module(f"nann_trainer.cli.{COMMANDS['train'][0]}")
        parser = argparse.ArgumentParser(prog="train", exit_on_error=False)
        module.add_arguments(parser)
        with self.assertRaises((argparse.ArgumentError, SystemExit)), contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(["--out", "x", "--no-such-option"])


if __name__ == "__main__":
    unittest.main()
