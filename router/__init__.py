"""Routing rules: a YAML file admins edit, validated, compiled, explained, hot-reloaded.

The rest of the gateway uses only what is re-exported here.
"""

from router.calendar import Calendar, add_business_time, business_time_between
from router.config import EscalationPath, EscalationStep, QueueConfig, SlaPolicy
from router.decision import Decision, TraceStep
from router.errors import RuleFileError, RulesError
from router.live import LiveRules
from router.loader import load_rules, load_rules_text
from router.rules import RuleSet
from router.trends import Threshold, Trend, window_words

__all__ = [
    "Calendar",
    "Decision",
    "EscalationPath",
    "EscalationStep",
    "LiveRules",
    "QueueConfig",
    "RuleFileError",
    "RuleSet",
    "RulesError",
    "SlaPolicy",
    "Threshold",
    "TraceStep",
    "Trend",
    "add_business_time",
    "business_time_between",
    "load_rules",
    "load_rules_text",
    "window_words",
]
