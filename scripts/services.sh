#!/usr/bin/env bash
# Make sure the local Redis and PostgreSQL that the integration tests use are up.
# Starts them with the distribution's own tools when they are installed but stopped;
# never installs anything and never touches a remote host.
set -u

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "starting a local redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/cti-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/cti-redis --logfile /tmp/cti-redis/redis.log >/dev/null
fi
if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "starting the local PostgreSQL cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
for _ in $(seq 1 50); do redis_up && pg_up && exit 0; sleep 0.1; done
redis_up || echo "warning: Redis is not reachable on 127.0.0.1:6379"
pg_up || echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432"
exit 0
