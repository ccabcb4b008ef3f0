"""Generative-Contrastive Learning (GCL) loss of NoteLLM: symmetric in-batch InfoNCE with a learned temperature."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def compute_loss_from_embeddings(anchors: torch.Tensor, positives: torch.Tensor, log_scale: torch.Tensor,
                                 negatives: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of related pairs.

    anchors, positives: (B, d) L2-normalised embeddings; row i of each is a related pair, every other row
    of the batch is a negative. log_scale: scalar, the logits are exp(log_scale) * cosine similarity
    (i.e. temperature tau = exp(-log_scale)). negatives: (H, d) extra candidates for the anchors only (hard
    negatives). Returns the mean of the anchor->positive and positive->anchor cross-entropies.
    """
    scale = torch.exp(log_scale)
    logits = scale * anchors @ positives.T
    labels = torch.arange(anchors.shape[0], device=anchors.device)
    forward = logits if negatives is None else torch.cat([logits, scale * anchors @ negatives.T], dim=1)
    return (F.cross_entropy(forward, labels) + F.cross_entropy(logits.T, labels)) / 2


class SymmetricInfoNCELoss(nn.Module):
    """L_cl of NoteLLM (arXiv 2403.01744, eq. 3), made symmetric as in CLIP.

    NoteLLM samples related note pairs (co-occurrence, here also links) and uses the other notes of the
    batch as negatives; its temperature is learned, initialised at 1/e^3 (logit scale e^3). This is
    sentence-transformers' MultipleNegativesSymmetricRankingLoss with a learnable scale.

    forward(anchors, positives[, negatives]) with (B, d) normalised embeddings (and (H, d) hard negatives,
    candidates for the anchors only) -> scalar loss.
    """

    def __init__(self, init_log_scale: float = 3.0, max_log_scale: float = math.log(100.0)):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(float(init_log_scale)))
        self.max_log_scale = max_log_scale

    @property
    def scale(self) -> float:
        return float(torch.exp(self.log_scale.detach()))

    def forward(self, anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None) -> torch.Tensor:
        log_scale = self.log_scale.clamp(max=self.max_log_scale)  # CLIP's cap at 100 keeps the softmax sane
        return compute_loss_from_embeddings(anchors, positives, log_scale, negatives)
