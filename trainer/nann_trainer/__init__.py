"""nann reference trainer: scorer architectures, training and export to nann's model directory contract.

Run as ``python3 -m nann_trainer <command> …`` with ``trainer/`` on ``PYTHONPATH`` (or installed with
``pip install -e trainer``), or from the repository root as ``./nann trainer <command> …``; the
commands are in :mod:`nann_trainer.cli`, ``python3 -m nann_trainer --help`` lists them.
"""
import os

# The default MovieLens-100k directory: shared/data/ next to the repository (trainer/nann_trainer/ -> ../../..).
DEFAULT_MOVIELENS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "..", "shared", "data", "movielens-100k"))
