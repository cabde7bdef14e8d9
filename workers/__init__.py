"""RQ jobs: outbound delivery, queue notifications (Slack sync), SLA timers and escalation."""
