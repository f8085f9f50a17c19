"""The oracle scorers compute the functions their docs name (kernel over behaviour, L2 to the mean)."""
import unittest

import numpy as np
import torch

from nann_trainer.cli.make_oracle_scorers import Oracle


class OracleTest(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(3)
        self.seq = torch.randn(2, 5, 4, generator=g)
        self.mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
        self.items = torch.randn(6, 4, generator=g)
        self.user_idx = torch.tensor([0, 1, 0, 1, 1, 0])

    def scores(self, kind):
        model = Oracle(kind, 2.0)
        with torch.no_grad():
            return model.score(*model.user(self.seq, self.mask), self.user_idx, self.items).numpy()

    def test_kernel_is_logsumexp_over_the_unmasked_behaviour(self):
        got = self.scores("kernel")
        for n in range(6):
            u = int(self.user_idx[n])
            keep = self.mask[u].numpy() > 0
            d2 = ((self.seq[u].numpy()[keep] - self.items[n].numpy()) ** 2).sum(1)
            want = np.log(np.exp(-d2 / 2.0).sum())
            self.assertAlmostEqual(float(got[n]), float(want), places=4)

    def test_l2_is_the_distance_to_the_behaviour_mean(self):
        got = self.scores("l2")
        for n in range(6):
            u = int(self.user_idx[n])
            keep = self.mask[u].numpy() > 0
            centre = self.seq[u].numpy()[keep].mean(0)
            want = -((self.items[n].numpy() - centre) ** 2).sum() / 2.0
            self.assertAlmostEqual(float(got[n]), float(want), places=4)


if __name__ == "__main__":
    unittest.main()
