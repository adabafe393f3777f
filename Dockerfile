# recon-bot: one process (Slack Socket Mode + scheduler) with its SQLite store under /data.
#
#   docker build -t recon-bot .
#   docker run --rm -v recon-data:/data recon-bot recon-bot init        # policy, audit key
#   docker run -d --name recon-bot -v recon-data:/data \
#     -e SLACK_BOT_TOKEN=xoxb-... -e SLACK_APP_TOKEN=xapp-... recon-bot
#
# Socket Mode needs no inbound port. Tokens come from the environment, never the image.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RECON_DATABASE_URL=sqlite+aiosqlite:////data/recon.db \
    RECON_POLICY=/data/policy.yml \
    RECON_AUDIT_KEY=/data/audit_ed25519.pem \
    RECON_AUDIT_ANCHORS=/data/audit_anchors.jsonl
RUN groupadd --system --gid 10001 recon \
    && useradd --system --uid 10001 --gid recon --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin recon \
    && mkdir -p /data \
    && chown recon:recon /data
COPY --from=build /opt/venv /opt/venv
USER recon
WORKDIR /data
VOLUME ["/data"]
CMD ["recon-bot", "serve"]
