"""Distractor items: synthetic e_v sampled from a density fitted to the learned ones.

MovieLens has 1,682 items; graph search only matters at scale. A Gaussian mixture (diagonal
covariances, fitted by EM, seeded) over the real items' e_v gives N look-alike items, so the real
held-out items are needles among up to a million distractors. When every real e_v has the same
norm (the trainer's item tower normalises), samples are projected onto that sphere, the support of
the real density. Distractors carry ids far above the
real ones and never appear in ground truth.
"""
import numpy as np

from nann_trainer.batches import batches

DISTRACTOR_ID_BASE = 1_000_000_000


class DiagonalGmm:
    """A Gaussian mixture with diagonal covariances."""

    def __init__(self, weights, means, variances):
        self.weights, self.means, self.variances = weights, means, variances

    @staticmethod
    def fit(x, components=16, iterations=100, seed=7, floor=1e-4, tol=1e-6):
        x = np.asarray(x, dtype=np.float64)
        n, d = x.shape
        k = min(components, n)
        rng = np.random.default_rng(seed)
        means = x[rng.choice(n, size=k, replace=False)].copy()
        variances = np.tile(x.var(axis=0) + floor, (k, 1))
        weights = np.full(k, 1.0 / k)
        prev = -np.inf
        for _ in range(iterations):
            log_r = DiagonalGmm(weights, means, variances)._log_joint(x)          # [n, k]
            top = log_r.max(axis=1, keepdims=True)
            ll = float((top[:, 0] + np.log(np.exp(log_r - top).sum(axis=1))).mean())
            r = np.exp(log_r - top)
            r /= r.sum(axis=1, keepdims=True)
            nk = r.sum(axis=0) + 1e-10
            weights = nk / n
            means = (r.T @ x) / nk[:, None]
            variances = (r.T @ (x * x)) / nk[:, None] - means * means + floor
            if ll - prev < tol:
                break
            prev = ll
        return DiagonalGmm(weights, means, variances)

    def _log_joint(self, x):
        diff = x[:, None, :] - self.means[None, :, :]
        log_det = np.log(self.variances).sum(axis=1)
        maha = (diff * diff / self.variances[None, :, :]).sum(axis=2)
        d = x.shape[1]
        return np.log(self.weights)[None, :] - 0.5 * (maha + log_det[None, :] + d * np.log(2 * np.pi))

    def mean_log_likelihood(self, x):
        log_r = self._log_joint(np.asarray(x, dtype=np.float64))
        top = log_r.max(axis=1, keepdims=True)
        return float((top[:, 0] + np.log(np.exp(log_r - top).sum(axis=1))).mean())

    def sample(self, n, seed=7):
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        z = rng.standard_normal((n, self.means.shape[1]))
        return (self.means[comp] + z * np.sqrt(self.variances[comp])).astype(np.float32)


def with_distractors(real_emb, real_ids, n, components=16, seed=7, log=print):
    """Real rows first, then ``n`` sampled distractors; returns (embeddings, ids)."""
    if n <= 0:
        return real_emb.astype(np.float32), real_ids.astype(np.int64)
    gmm = DiagonalGmm.fit(real_emb, components=components, seed=seed)
    log(f"[distractors] GMM with {len(gmm.weights)} diagonal components fitted to {len(real_emb)} items "
        f"(mean log-likelihood {gmm.mean_log_likelihood(real_emb):.2f}); sampling {n}")
    fake = np.empty((n, real_emb.shape[1]), dtype=np.float32)
    for k, sl in enumerate(batches(n, 200_000)):     # chunk k sampled with seed + 1 + k
        fake[sl] = gmm.sample(sl.stop - sl.start, seed=seed + 1 + k)
    norms = np.linalg.norm(real_emb, axis=1)
    if norms.size and norms.max() - norms.min() <= 1e-3 * max(norms.mean(), 1e-12):
        # the item tower puts every e_v on one sphere: keep the distractors on the same support, or
        # off-sphere samples (longer vectors) would win inner products no real item can
        fake *= (norms.mean() / np.maximum(np.linalg.norm(fake, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        log(f"[distractors] projected onto the real items' sphere (|e_v| = {norms.mean():.3f})")
    return np.concatenate([real_emb.astype(np.float32), fake]), distractor_ids(real_ids, n)


def distractor_ids(real_ids, n):
    """Real ids, then ``n`` distractor ids from DISTRACTOR_ID_BASE, or past the largest real id when
    the catalogue's own ids reach that far (hashed or snowflake ids): an id never names two items."""
    real = np.asarray(real_ids, dtype=np.int64)
    base = max(DISTRACTOR_ID_BASE, int(real.max()) + 1) if real.size else DISTRACTOR_ID_BASE
    if base > np.iinfo(np.int64).max - n:
        raise ValueError(f"no room for {n} distractor ids above the largest item id {int(real.max())}")
    return np.concatenate([real, base + np.arange(n, dtype=np.int64)])
