"""The task registry: name -> Task class. Task modules import heavy libraries only when run."""

from __future__ import annotations

from eval.tasks.base import Task
from eval.tasks.healthbench import HealthBench
from eval.tasks.latency import Latency
from eval.tasks.mcq import BioASQ, MedMCQA, MedQA, MMLUMed, PubMedQA
from eval.tasks.retrieval import RetrievalQuality
from eval.tasks.safety import RedTeam
from eval.tasks.vision import VisionClassifier

TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (MMLUMed, MedQA, MedMCQA, PubMedQA, BioASQ, RetrievalQuality, VisionClassifier, RedTeam,
                HealthBench, Latency)
}
