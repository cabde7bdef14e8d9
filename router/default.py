"""The built-in rules used when no rule file exists, so a fresh checkout runs.

Every conversation goes to service, tier 1, normal priority; both queues exist
so agents can transfer between them. Kept as YAML text and loaded through the
normal loader, so the default can never drift from what a file may say.
"""

from __future__ import annotations

from router.loader import load_rules_text
from router.rules import RuleSet

DEFAULT_RULES_NAME = "<built-in default>"

DEFAULT_RULES_YAML = """\
queues:
  service:
    description: Pricing, purchases, billing, returns, onboarding
    slack_channel: "#service"
    sla_policy: standard
  support:
    description: Errors, bugs, setup, passwords, outages
    slack_channel: "#support"
    sla_policy: standard
sla_policies:
  standard:
    first_response: 4h
    next_response: 8h
    resolution: 3d
default:
  queue: service
  tier: 1
  priority: normal
"""


def default_ruleset() -> RuleSet:
    return load_rules_text(DEFAULT_RULES_YAML, DEFAULT_RULES_NAME)
