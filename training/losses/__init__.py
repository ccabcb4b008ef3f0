"""NoteLLM's two losses and how they combine: (L_cl + alpha * L_gen) / (1 + alpha)."""

from __future__ import annotations

import torch

from .contrastive import SymmetricInfoNCELoss
from .distillation import SimilarityDistillationLoss
from .generation import AnswerGenerationLoss


def combine(contrastive: torch.Tensor, generation: torch.Tensor, alpha: float) -> torch.Tensor:
    """NoteLLM eq. 6: the contrastive loss dominates; alpha = 0.01 in the paper."""
    return (contrastive + alpha * generation) / (1.0 + alpha)


__all__ = ["SymmetricInfoNCELoss", "SimilarityDistillationLoss", "AnswerGenerationLoss", "combine"]
