"""plot_eval.curves: one sorted line per search mode, graph-check rows left out."""
import unittest

from nann_trainer.cli.plot_eval import curves


class CurvesTest(unittest.TestCase):
    def test_one_sorted_line_per_mode_without_graph_check_rows(self):
        rows = [{"mode": "nann", "scored_fraction": 0.02, "coverage": 0.99},
                {"mode": "hnsw", "scored_fraction": 0.003, "coverage": 0.7},
                {"mode": "nann", "scored_fraction": 0.005, "coverage": 0.86},
                {"mode": "graph-l2", "beam_recall": 0.998},
                {"mode": "brute", "scored_fraction": 1.0, "coverage": 1.0}]
        self.assertEqual(curves(rows, "coverage"),
                         {"nann": [(0.005, 0.86), (0.02, 0.99)], "hnsw": [(0.003, 0.7)], "brute": [(1.0, 1.0)]})

    def test_a_metric_the_rows_lack_names_the_ones_they_have(self):
        rows = [{"mode": "nann", "scored_fraction": 0.02, "coverage": 0.99, "recall_retrieval": 0.2}]
        with self.assertRaisesRegex(SystemExit, "--metric recall: not a number .* coverage, recall_retrieval"):
            curves(rows, "recall")


if __name__ == "__main__":
    unittest.main()
