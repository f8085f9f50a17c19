"""Unit tests of nann_trainer: PYTHONPATH=trainer python3 -m unittest discover -s trainer/tests
(or, without PYTHONPATH: python3 -m unittest discover -s trainer/tests -t trainer)."""
