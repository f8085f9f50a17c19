"""NCE loss with the FGSM flatness auxiliary task (NANN paper §3.1.3, §3.4, Eq. 4–5)."""
import math

import torch
import torch.nn.functional as F


def nce_logits(scores, noise_log_prob, negatives):
    """Classifier logits of NCE: s_u(e_v) - log(K q(v)) for every candidate."""
    return scores - (math.log(negatives) + noise_log_prob)


def nce_loss(scores, noise_log_prob, negatives):
    """scores [B, 1+K]: column 0 the true item, the rest noise samples; noise_log_prob same shape."""
    logits = nce_logits(scores, noise_log_prob, negatives)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / scores.shape[0]


def fgsm_delta(score_fn, item_emb, eps):
    """Eq. 5: Δ = ε · sign(∇_{e_v} s_u(e_v)), a constant (no gradient flows through it); ‖Δ‖_∞ = ε."""
    probe = item_emb.detach().requires_grad_(True)
    grad, = torch.autograd.grad(score_fn(probe).sum(), probe)
    return (eps * grad.sign()).detach()


def fgsm_flatness(score_fn, item_emb, scores, eps):
    """L_AUX of Eq. 4 with the perturbation of Eq. 5.

    Δ = ε · sign(∇_{e_v} s_u(e_v)) (treated as a constant), and the divergence between the
    engagement probabilities p = σ(s_u(e_v)) and p̃ = σ(s_u(e_v + Δ)) is the Bernoulli KL
    p log(p/p̃) + (1-p) log((1-p)/(1-p̃)) — Eq. 4 writes the first term; the second keeps the
    divergence non-negative. Averaged over users, summed over each user's true and noise items.
    """
    if eps <= 0:
        return scores.new_zeros(())
    s_adv = score_fn(item_emb + fgsm_delta(score_fn, item_emb, eps))
    p = torch.sigmoid(scores)
    logp, log1mp = F.logsigmoid(scores), F.logsigmoid(-scores)
    logq, log1mq = F.logsigmoid(s_adv), F.logsigmoid(-s_adv)
    kl = p * (logp - logq) + (1 - p) * (log1mp - log1mq)
    return kl.sum() / scores.shape[0]
