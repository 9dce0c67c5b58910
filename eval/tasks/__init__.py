"""The task registry: name -> Task class. Task modules import heavy libraries only when run."""

from __future__ import annotations

from eval.tasks.base import Task
from eval.tasks.mcq import MMLUMed, BioASQ, MedMCQA, MedQA, PubMedQA

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (MMLUMed, MedQA, MedMCQA, PubMedQA, BioASQ)}
