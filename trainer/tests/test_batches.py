"""The shared batching loop (nann_trainer.batches) and the command line (python3 -m nann_trainer).

    PYTHONPATH=trainer /usr/bin/python3 -m unittest discover -s trainer/tests -v
"""
import contextlib
import importlib
import io
import tempfile
import unittest

import numpy as np

from nann_trainer.__main__ import main
from nann_trainer.batches import batches, shuffled_batches
from nann_trainer.cli import COMMANDS


class BatchesTest(unittest.TestCase):
    def test_consecutive_slices_cover_the_range_once(self):
        self.assertEqual(list(batches(10, 4)), [slice(0, 4), slice(4, 8), slice(8, 10)])
        self.assertEqual(list(batches(8, 4)), [slice(0, 4), slice(4, 8)])
        self.assertEqual(list(batches(3, 128)), [slice(0, 3)])
        self.assertEqual(list(batches(0, 4)), [])
        with self.assertRaises(ValueError):
            list(batches(5, 0))

    def test_shuffled_batches_are_one_permutation_in_chunks(self):
        got = list(shuffled_batches(11, 4, np.random.default_rng(3)))
        self.assertEqual([len(b) for b in got], [4, 4, 3])
        want = np.random.default_rng(3).permutation(11)
        np.testing.assert_array_equal(np.concatenate(got), want)

    def test_shuffled_batches_draw_exactly_one_permutation(self):
        mine, ref = np.random.default_rng(5), np.random.default_rng(5)
        for _ in shuffled_batches(1000, 64, mine):
            pass
        ref.permutation(1000)
        self.assertEqual(mine.random(), ref.random(), "the RNG stream continues as after one permutation")


class CommandLineTest(unittest.TestCase):
    def run_main(self, argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            with self.assertRaises(SystemExit) as e:
                main(argv)
        return e.exception.code, out.getvalue()

    def test_help_lists_every_command(self):
        code, text = self.run_main(["--help"])
        self.assertEqual(code, 0)
        for name in COMMANDS:
            self.assertIn(name, text)

    def test_every_command_has_its_help_and_options(self):
        for name, (module, _summary) in COMMANDS.items():
            with self.subTest(command=name):
                m = importlib.import_module(f"nann_trainer.cli.{module}")
                self.assertTrue(callable(m.add_arguments) and callable(m.run))
                code, text = self.run_main([name, "--help"])
                self.assertEqual(code, 0)
                self.assertIn(f"usage: python3 -m nann_trainer {name}", text)

    def test_unknown_command_and_options_are_refused(self):
        self.assertEqual(self.run_main(["no-such-command"])[0], 2)
        self.assertEqual(self.run_main(["tables", "--no-such-option"])[0], 2)

    def test_arguments_reach_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(SystemExit) as e:
                main(["matrix", tmp, "--table", "unused.md"])
        self.assertEqual(str(e.exception.code), f"{tmp}: no */eval*efc*.json files")


if __name__ == "__main__":
    unittest.main()
