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
# Finished job records are only for debugging; keep Redis small.
RESULT_TTL = 300
FAILURE_TTL = 7 * 24 * 3600
