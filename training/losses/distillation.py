"""Similarity distillation: the model learns to order a batch's notes the way a teacher embedding orders them.

An extra term next to GCL (NoteLLM issue #12 allows it when the product never runs the teacher). Links are
sparse: a batch of B pairs tells the contrastive loss only which one of B notes is the partner. The teacher
(all-MiniLM-L6-v2, `teacher.py`) says how related every note of the batch is to every other,
which is the signal a note without links needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def compute_loss_from_embeddings(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over rows of KL(teacher || student) between the softmaxed similarities of each note to the others.

    student (N, d) and teacher (N, d') are L2-normalised embeddings of the same N notes. A note's similarity
    to itself is left out. Both sides are divided by the same temperature, so the student also learns the
    teacher's spread. Zero with fewer than three notes (a row needs two others to order)."""
    n = student.shape[0]
    if n < 3:
        return student.sum() * 0.0
    self_mask = torch.eye(n, dtype=torch.bool, device=student.device)
    student_logits = (student @ student.T / temperature).masked_fill(self_mask, float("-inf"))
    teacher_logits = (teacher @ teacher.T / temperature).masked_fill(self_mask, float("-inf"))
    student_log = F.log_softmax(student_logits.float(), dim=-1).masked_fill(self_mask, 0.0)
    teacher_log = F.log_softmax(teacher_logits.float(), dim=-1).masked_fill(self_mask, 0.0)
    return (teacher_log.exp() * (teacher_log - student_log)).sum(dim=-1).mean()


class SimilarityDistillationLoss(nn.Module):
    """forward(student, teacher, has_teacher) -> scalar: the KL above over the notes that have a teacher vector
    (`has_teacher`, a (N,) bool mask; the teacher rows of the others are ignored)."""

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        self.temperature = temperature

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, has_teacher: torch.Tensor) -> torch.Tensor:
        return compute_loss_from_embeddings(student[has_teacher], teacher[has_teacher].to(student.dtype), self.temperature)
