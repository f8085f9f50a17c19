"""Unit tests of the scorer architectures: the serving path (user_idx, several users per call)
equals the training path, and distance attention ranks far items by L2 distance.

    PYTHONPATH=trainer /usr/bin/python3 -m unittest discover -s trainer/tests -v
"""
import unittest

import torch

from nann_trainer.models import RBF_HEAD_BOUND, Scorer

DIM, HIDDEN, SEQ = 8, 12, 6


def behaviour(users, seed):
    g = torch.Generator().manual_seed(seed)
    seq = torch.randn(users, SEQ, DIM, generator=g)
    mask = torch.ones(users, SEQ)
    if users > 1:
        mask[1, 4:] = 0.0                  # a shorter user: padded rows must not count
    return seq * mask.unsqueeze(-1), mask


class ArchitectureTest(unittest.TestCase):
    def test_serving_path_equals_training_path_for_every_architecture(self):
        for arch, attention in (("two-sided", "dot"), ("dnn", "dot"), ("attention", "dot"), ("attention", "rbf")):
            with self.subTest(arch=arch, attention=attention):
                torch.manual_seed(3)
                model = Scorer(arch, DIM, HIDDEN, attention).eval()
                seq, mask = behaviour(3, 5)
                seq[2], mask[2] = 0.0, 0.0                                          # and a cold start
                cand = torch.randn(3, 4, DIM, generator=torch.Generator().manual_seed(9))
                with torch.no_grad():
                    state = model.user(seq, mask)
                    grid = model.score.score_grid(state, cand)                      # [3, 4]
                    idx = torch.arange(3).repeat_interleave(4)                      # all users in one call
                    served = model.score(*state, idx, cand.reshape(12, DIM))
                torch.testing.assert_close(served, grid.reshape(12), rtol=1e-5, atol=1e-5)

    def test_unknown_attention_and_a_non_positive_head_bound_are_refused(self):
        with self.assertRaises(ValueError):
            Scorer("attention", DIM, HIDDEN, "cosine")
        for bound in (0.0, float("inf"), float("nan"), 1e5):   # nan and inf give NaN scores; past fp16's range
            with self.assertRaises(ValueError):
                Scorer("attention", DIM, HIDDEN, "rbf", head_bound=bound)
        Scorer("dnn", DIM, HIDDEN, head_bound=0.0)   # a bound only distance attention uses is not checked elsewhere

    def test_a_cold_start_users_distance_attention_scores_fit_half_precision(self):
        # --precision fp16 runs the score network in float16, which resolves steps of 8 near 1e4: a
        # cold-start user's distance-attention scores, pushed there by the padding mask, collapsed
        # onto a few values. Debian's PyTorch cannot run the network in half precision on the CPU, so
        # the scores it outputs (a float16 tensor in the converted graph) are rounded to float16 here.
        torch.manual_seed(3)
        model = Scorer("attention", DIM, HIDDEN, "rbf").eval()
        seq, mask = torch.zeros(1, SEQ, DIM), torch.zeros(1, SEQ)
        items = torch.randn(16, DIM, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            state = model.user(seq, mask)
            scores = model.score(*state, torch.zeros(16, dtype=torch.int64), items)
        gaps = scores - scores[0]
        half = scores.half().float()
        torch.testing.assert_close(half - half[0], gaps, rtol=2e-2, atol=2e-2)
        self.assertGreater(float(gaps.abs().max()), 0.05, "the items should score apart")


class RbfAttentionTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(11)
        self.model = Scorer("attention", DIM, HIDDEN, "rbf").eval()
        self.seq, self.mask = behaviour(1, 2)

    def score(self, items):
        with torch.no_grad():
            state = self.model.user(self.seq, self.mask)
            return self.model.score(*state, torch.zeros(len(items), dtype=torch.int64), items)

    def test_score_is_the_attention_mass_plus_a_bounded_head(self):
        self.assertEqual(RBF_HEAD_BOUND, self.model.score.head_bound)
        near = self.seq[0, :1] + 0.01
        with torch.no_grad():
            gamma = torch.exp(self.model.score.log_gamma)
            d2 = ((near.unsqueeze(1) - self.seq[0].unsqueeze(0)) ** 2).sum(-1)     # [1, L]
            mass = torch.logsumexp(-gamma * d2, dim=-1) + self.model.score.bias
        self.assertLessEqual(abs(float(self.score(near) - mass)), RBF_HEAD_BOUND + 1e-5)

    def test_far_from_the_behaviour_the_score_falls_with_distance(self):
        direction = torch.randn(DIM, generator=torch.Generator().manual_seed(4))
        direction /= direction.norm()
        centre = self.seq[0].mean(0)
        radii = torch.arange(10.0, 30.0, 2.0)                 # steps of squared distance >> head bound
        scores = self.score(centre + radii.unsqueeze(1) * direction)
        self.assertTrue(bool((scores[1:] < scores[:-1]).all()), scores.tolist())

    def test_padded_behaviour_rows_are_ignored(self):
        seq, mask = self.seq.clone(), self.mask.clone()
        seq[0, 5] = 0.0
        mask[0, 5] = 0.0
        items = torch.randn(3, DIM, generator=torch.Generator().manual_seed(8))
        with torch.no_grad():
            padded = self.model.score(*self.model.user(seq, mask), torch.zeros(3, dtype=torch.int64), items)
            shorter = Scorer.forward(self.model, seq[:, :5], mask[:, :5], items[:1])
        self.assertAlmostEqual(float(padded[0]), float(shorter[0]), places=4)


if __name__ == "__main__":
    unittest.main()
