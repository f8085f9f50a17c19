"""matrix.summarize: coverage at equal items, the margin over HNSW-retrieval, QPS at equal coverage."""
import math
import unittest

from nann_trainer.cli.matrix import at_items, qps_at_coverage, summarize, table, widths_at_hnsw


def row(mode, scored, cov, qps):
    return {"mode": mode, "scored_fraction": scored, "coverage": cov, "qps": qps}


class MatrixTest(unittest.TestCase):
    def test_coverage_at_equal_items_is_interpolated_in_log_items(self):
        pts = [(0.01, 0.9, 100.0), (0.04, 0.99, 50.0)]
        self.assertIsNone(at_items(pts, 0.005), "below the curve: not measured")
        self.assertAlmostEqual(at_items(pts, 0.02), 0.945)   # halfway in log(items)
        self.assertEqual(at_items(pts, 0.5), 0.99, "beyond the last point: the best coverage reached")

    def test_qps_at_coverage_follows_the_curve(self):
        pts = [(0.01, 0.9, 400.0), (0.02, 0.99, 100.0)]
        self.assertAlmostEqual(qps_at_coverage(pts, 0.945), 200.0)
        self.assertIsNone(qps_at_coverage(pts, 0.995))

    def test_margin_and_ratios(self):
        rows = [row("nann", 0.01, 0.95, 300), row("nann", 0.02, 0.995, 200),
                row("hnsw", 0.01, 0.94, 60), row("hnsw", 0.02, 0.99, 40), row("hnsw", 0.04, 1.0, 20),
                row("brute", 1.0, 1.0, 2), {"mode": "graph-l2", "nann_recall": 0.99}]
        s = summarize(rows)
        self.assertAlmostEqual(s["margin"], -0.005, msg="at 4% nann's best (0.995) is below HNSW's 1.0")
        self.assertAlmostEqual(s["qps_ref_coverage"], 0.99)
        self.assertAlmostEqual(s["qps_vs_hnsw"], math.exp(math.log(300) + (0.04 / 0.045) * (math.log(200) - math.log(300))) / 40)
        self.assertEqual(s["qps_vs_brute"], 100.0)
        short = summarize([row("nann", 0.01, 0.9, 100), row("hnsw", 0.01, 0.95, 10), row("hnsw", 0.02, 0.97, 5)])
        self.assertAlmostEqual(short["qps_ref_coverage"], 0.9, msg="neither reaches 0.99: nann's best is the reference")
        self.assertAlmostEqual(short["qps_vs_hnsw"], 10.0)
        text = table([(("ml", "dnn", "2", "0", "40"), s)])
        self.assertIn("| ml | dnn | 2 | 0 | 40 | 2.00% | 2.00% |", text)
        self.assertIn("| yes |", text)
        self.assertIn("| -0.0050 | — | — |", text, "no narrow-descent file: its columns are empty")

    def test_narrow_descent_margin_and_the_descent_eval_picks(self):
        rows = [row("nann", 0.01, 0.90, 300), row("nann", 0.02, 0.96, 200),
                row("hnsw", 0.01, 0.93, 60), row("hnsw", 0.02, 0.97, 40)]
        narrow = [row("nann", 0.01, 0.93, 320), row("nann", 0.02, 0.975, 210),
                  {"mode": "recommendation", "recommended_descent": "narrow"}]
        s = summarize(rows, narrow)
        self.assertAlmostEqual(s["margin"], -0.03)
        self.assertAlmostEqual(s["margin_narrow"], 0.0)
        self.assertEqual(s["eval_descent"], "narrow")
        text = table([(("ml", "dnn", "2", "0", "40"), s)])
        self.assertIn("| -0.0300 | — (0.975), +0.0000 | narrow (+0.0000) |", text)
        wide = summarize(rows, narrow[:2] + [{"mode": "recommendation", "recommended_descent": "wide"}])
        self.assertIn("| wide (-0.0300) |", table([(("ml", "dnn", "2", "0", "40"), wide)]))


    def test_widths_between_join_the_coverage_curve_but_not_the_timed_ratios(self):
        rows = [row("nann", 0.01, 0.80, 300), row("nann", 0.04, 0.98, 100),
                row("hnsw", 0.02, 0.92, 50), row("brute", 1.0, 1.0, 2)]
        self.assertLess(summarize(rows)["margin"], 0, "the chord from 0.80 to 0.98 passes under HNSW's 0.92")
        between = [row("nann", 0.02, 0.93, 1000)]   # a concave curve: the point between lies above the chord
        s = summarize(rows, (), between)
        self.assertAlmostEqual(s["margin"], 0.01)
        self.assertEqual(s["qps_vs_brute"], 50.0, "short of 0.99: at the main run's highest coverage (0.98 at 100 QPS), "
                         "not at its fastest point nor the 1000 QPS between")


    def test_widths_at_hnsw_items_are_interpolated_in_log_log_and_land_just_below(self):
        def walk(w, items):
            return {"mode": "nann", "params": f"W={w} budget=100000", "scored_per_query": items}
        rows = [walk(200, 1000), walk(800, 4000), {"mode": "hnsw", "scored_per_query": 2000},
                {"mode": "hnsw", "scored_per_query": 500}, {"mode": "hnsw", "scored_per_query": 9000}]
        # items double from 1000 to 2000: half way in log(items), so W = 400 (log-log), times 0.99
        self.assertEqual(widths_at_hnsw(rows), [396], "points outside the walk's runs are left out")


if __name__ == "__main__":
    unittest.main()
