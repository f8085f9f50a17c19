"""Deep Retrieval structure model: beam search, multi-path loss, streaming scores, coordinate descent.

    PYTHONPATH=trainer /usr/bin/python3 -m unittest discover -s trainer/tests -v
"""
import math
import unittest

import torch

from nann_trainer.dr import (StreamingPathScores, StructureModel, all_paths, assign_paths,
                             beam_search, beam_search_batch, f_size, multi_path_loss, penalized_objective,
                             shape_problem, trained_paths)


class BeamSearchTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(3)
        self.model = StructureModel(user_dim=4, depth=3, width=4, emb=3, hidden=8)
        self.user = torch.randn(4)

    def test_probabilities_of_all_paths_sum_to_one(self):
        _paths, lp = all_paths(self.model, self.user)
        self.assertAlmostEqual(float(lp.exp().sum()), 1.0, places=5)

    def test_full_beam_equals_exhaustive_enumeration(self):
        paths, lp = all_paths(self.model, self.user)
        order = torch.argsort(lp, descending=True)
        got, got_lp = beam_search(self.model, self.user, beam=64)
        self.assertEqual(got.tolist(), paths[order].tolist())
        torch.testing.assert_close(got_lp, lp[order])

    def test_narrow_beam_returns_true_path_probabilities_and_batch_agrees(self):
        paths, lp = all_paths(self.model, self.user)
        table = {tuple(p): float(x) for p, x in zip(paths.tolist(), lp)}
        got, got_lp = beam_search(self.model, self.user, beam=3)
        self.assertEqual(got.shape, (3, 3))
        for p, x in zip(got.tolist(), got_lp.tolist()):
            self.assertAlmostEqual(table[tuple(p)], x, places=5)
        users = torch.stack([self.user, torch.randn(4)])
        bp, bl = beam_search_batch(self.model, users, beam=3)
        self.assertEqual(bp[0].tolist(), got.tolist())
        torch.testing.assert_close(bl[0], got_lp)
        single, _ = beam_search(self.model, users[1], beam=3)
        self.assertEqual(bp[1].tolist(), single.tolist())

    def test_multi_path_loss_by_hand(self):
        paths = torch.tensor([[[0, 1, 2], [3, 3, 3]]])
        lp = self.model.path_logprob(self.user.unsqueeze(0).expand(2, -1), paths[0])
        want = -math.log(float(lp.exp().sum()))
        self.assertAlmostEqual(float(multi_path_loss(self.model, self.user.unsqueeze(0), paths)), want, places=5)


class MStepTest(unittest.TestCase):
    def test_streaming_update_follows_the_paper(self):
        s = StreamingPathScores(top_s=2, decay=0.5)
        s.update(7, {(0, 0): 1.0, (0, 1): 0.4})
        self.assertEqual(s.scores[7], {(0, 0): 1.0, (0, 1): 0.4})
        s.update(7, {(0, 0): 0.2, (1, 1): 0.9})
        # (0,0): 0.5*1.0+0.2; (0,1): 0.5*0.4 (not new); (1,1): 0.5*min(old)=0.5*0.4 + 0.9; keep top 2
        self.assertEqual(set(s.scores[7]), {(0, 0), (1, 1)})
        self.assertAlmostEqual(s.scores[7][(0, 0)], 0.7)
        self.assertAlmostEqual(s.scores[7][(1, 1)], 1.1)

    def test_coordinate_descent_raises_the_penalised_objective_and_spreads_items(self):
        # six items that all prefer path A a little over their own second choice
        a = (0, 0)
        scores = {v: {a: 1.0, (1, v): 0.8} for v in range(6)}
        counts = {v: 3 for v in range(6)}
        start = {v: [a] for v in range(6)}
        for alpha in (0.0, 0.05):
            before = penalized_objective(scores, counts, start, alpha)
            after_assign = assign_paths(scores, counts, start, paths_per_item=1, alpha=alpha)
            after = penalized_objective(scores, counts, after_assign, alpha)
            self.assertGreaterEqual(after, before - 1e-9)
            sizes = {}
            for paths in after_assign.values():
                for c in paths:
                    sizes[c] = sizes.get(c, 0) + 1
            if alpha == 0:
                self.assertEqual(sizes, {a: 6}, "without the penalty everything collapses onto A")
            else:
                self.assertGreater(after, before, "the penalty pays for spreading")
                self.assertLess(max(sizes.values()), 6)

    def test_the_m_step_never_lowers_the_objective_with_several_paths(self):
        import random
        rnd = random.Random(5)
        paths = [(i, j) for i in range(3) for j in range(3)]
        scores = {v: {c: rnd.random() for c in rnd.sample(paths, 5)} for v in range(30)}
        counts = {v: rnd.randint(1, 9) for v in range(30)}
        assignment = {v: rnd.sample(paths, 3) for v in range(30)}
        for alpha in (0.0, 1e-3, 1e-1):
            before = penalized_objective(scores, counts, assignment, alpha)
            after = penalized_objective(scores, counts, assign_paths(scores, counts, assignment, 3, alpha), alpha)
            self.assertGreaterEqual(after, before - 1e-9, f"alpha={alpha}")

    def test_multiple_paths_per_item_are_distinct(self):
        scores = {0: {(0, 0): 0.5, (0, 1): 0.3, (1, 0): 0.2}}
        got = assign_paths(scores, {0: 1}, {0: [(1, 1), (1, 2)]}, paths_per_item=2, alpha=0.0)
        self.assertEqual(got[0], [(0, 0), (0, 1)])
        self.assertEqual(f_size(2), 4.0)


if __name__ == "__main__":
    unittest.main()


class ExportTest(unittest.TestCase):
    def test_shapes_whose_path_codes_overflow_are_refused(self):
        self.assertIsNone(shape_problem(3, 16, 3))
        self.assertIsNone(shape_problem(15, 16, 1))           # 2^60 paths
        self.assertIn("2^63", shape_problem(16, 16, 1))       # 2^64: codes would wrap negative
        self.assertIn("2^63", shape_problem(10, 100, 1))
        self.assertIn("--width", shape_problem(3, 1, 1))

    def test_only_training_targets_are_written(self):
        assignment = {0: [(0, 1), (2, 3)], 1: [(1, 1)], 2: [(3, 0)]}
        lines = trained_paths(assignment, {0: 4, 2: 1}, [101, 102, 103])
        self.assertEqual(lines, ["101\t0.1,2.3\n", "103\t3.0\n"])
