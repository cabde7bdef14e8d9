"""Slack: the agents' console (a thread per conversation) and Slack as a customer channel.

``app`` mounts slack-bolt on ``POST /slack/events``; ``events``, ``blocks`` and
``commands`` are pure; ``console`` keeps each conversation's thread in step
with the timeline (run by ``jobs.sync``); ``sender`` posts agent replies to
Slack customers; ``api`` wraps the Web API calls; ``state`` owns ``gw:slack:*``.
See docs/SLACK.md.
"""
