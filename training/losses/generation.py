"""Collaborative Supervised Fine-Tuning (CSFT) loss of NoteLLM: next-token loss on the answer tokens only."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100


def compute_loss_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `logits` (N, vocab) against `labels` (N,); IGNORE labels do not count.

    The caller gathers the logits of the positions that predict answer tokens (the hashtags or the
    category and the closing EOS), so the prompt is never a target. Zero when there is no target.
    """
    if logits.shape[0] == 0 or bool((labels == IGNORE).all()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), labels, ignore_index=IGNORE)


class AnswerGenerationLoss(nn.Module):
    """L_gen of NoteLLM (arXiv 2403.01744, eq. 5): the model writes the note's hashtags (or category) after
    the compression prompt and `The <j> topics are:`; only the answer's tokens are predicted.

    forward(hidden, lm_head, labels): hidden (N, h) states at the positions before each answer token,
    lm_head the model's output layer; logits are computed for those N positions only (the vocabulary
    is large, the answers are short).
    """

    def forward(self, hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor) -> torch.Tensor:
        return compute_loss_from_logits(lm_head(hidden), labels)
