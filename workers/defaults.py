"""Job queue names and job defaults, in one place."""

# RQ job queues (not to be confused with the service/support conversation queues,
# whose names they share: a conversation queue's notifications run on its job queue).
SERVICE = "service"
SUPPORT = "support"
OUTBOUND = "outbound"
JOB_QUEUES = (OUTBOUND, SERVICE, SUPPORT)

# Transient provider errors: retried after these many seconds (RQ's scheduler runs the retries).
OUTBOUND_RETRY_INTERVALS = [5, 15, 60, 180, 600]
JOB_TIMEOUT = 60
# A finished job's record and result stream cost ~6.5 KB per delivered reply (benchmarks/memory.py)
# and nothing reads them: RQ deletes a successful job at once. Failed ones stay (the dead letters).
RESULT_TTL = 0
FAILURE_TTL = 7 * 24 * 3600
