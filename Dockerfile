# The gateway's one image: every process (serve, worker, sweeper, keygen) runs from it;
# compose.yaml starts them all. Build: docker build -t omnichannel-gateway .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package and its dependencies (every dependency ships wheels for 3.11 on Linux: nothing to compile).
# One COPY per package pyproject.toml installs (tests/test_deployment.py checks the two lists agree).
COPY pyproject.toml README.md ./
COPY conversations ./conversations
COPY router ./router
COPY channels ./channels
COPY workers ./workers
COPY templates ./templates
COPY yamlmarks ./yamlmarks
COPY gateway ./gateway
RUN pip install .

# The example rules (start your routing.yaml from them) and a home for shared secret files.
COPY examples ./examples
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin gateway \
    && mkdir -p /var/lib/gateway/secrets \
    && chown gateway /var/lib/gateway/secrets \
    && chmod 700 /var/lib/gateway/secrets

USER gateway

# In a container the web process must listen beyond loopback; publish the port on the host as you choose.
ENV GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080
EXPOSE 8080

# SIGTERM drains (docker stop); run with an init (compose: init: true) so PID 1 forwards it from the first instant.
STOPSIGNAL SIGTERM
CMD ["gateway", "serve"]
