"""MedAssist: a medical consultation assistant grounded in literature, with an X-ray tool.

Not a medical device and not medically validated: see README.md.
"""

from __future__ import annotations

from assistant.engine import Assistant
from assistant.errors import MedAssistError
from assistant.events import AnswerResult
from assistant.types import Turn

__all__ = ["Assistant", "AnswerResult", "MedAssistError", "Turn"]
__version__ = "0.1.0"
