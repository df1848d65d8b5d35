"""import-runbook classification: what each command becomes (call, manual action, text) and why.

Anything that changes a system must be a manual action (or, when unknown, text), never a call.
"""

from __future__ import annotations

import pytest

from incident_kit.importer.classify import classify
from incident_kit.importer.commands import Command
from incident_kit.importer.parameters import ParameterSet


@pytest.mark.parametrize("command, outcome, detail", [
    ("curl -sf http://localhost:8080/healthz", "call", "ik.probes.http"),
    ("curl -X DELETE http://localhost:8080/api/cache", "manual", "DELETE"),
    ("curl --data-binary @x.json http://h/api", "manual", "body"),
    ("wget -qO- http://h/health", "call", "ik.probes.http"),
    ('psql $DATABASE_URL -c "SELECT 1"', "call", "ik.db.query"),
    ('psql $DATABASE_URL -c "DROP TABLE users"', "manual", "DROP"),
    ('psql -c "select pg_terminate_backend(42)"', "manual", "pg_terminate_backend"),
    ("psql $DATABASE_URL", "text", "interactive"),
    ("redis-cli -u $REDIS_URL ping", "call", "ik.redis.info"),
    ("redis-cli -h cache.internal -p 6380 LLEN q", "call", "ik.redis.queues"),
    ("redis-cli -u $REDIS_URL SET k v", "manual", "SET"),
    ("redis-cli -u $REDIS_URL CLIENT KILL ID 7", "manual", "CLIENT KILL"),
    ("redis-cli -u $REDIS_URL SLOWLOG GET 10", "text", "SLOWLOG"),
    ("tail -f logs/app.log", "call", "ik.logs.read"),
    ("cat /var/log/nginx/access.log | grep ' 502 '", "call", "ik.logs.read"),
    ("grep -c 'ERROR\\|WARN' logs/app.log", "call", "ik.logs.read"),
    ("cat config.yaml", "text", "prints a file"),
    ("df -h", "call", "ik.host.disk"),
    ("free -h", "call", "ik.host.stats"),
    ("ps aux --sort=-%cpu | head", "call", "ik.host.processes"),
    ("ps aux --sort=-%mem | head -10", "call", "ik.host.processes"),
    ("git log -5 --oneline", "call", "ik.deploys.git"),
    ("git reset --hard HEAD~1", "manual", "git reset"),
    ("git checkout main", "manual", "git checkout"),
    ("git tag v1.2.3", "manual", "git tag"),
    ("git branch -a", "text", "git branch"),
    ("kubectl get pods -n prod", "text", "kubectl CLI"),
    ("kubectl -n prod delete pod api-1", "manual", "delete"),
    ("kubectl rollout restart deploy/api", "manual", "rollout"),
    ("docker logs api --tail 50", "text", "docker CLI"),
    ("docker compose restart api", "manual", "restart"),
    ("systemctl status nginx", "text", "systemctl"),
    ("sudo systemctl restart nginx", "manual", "restart"),
    ("service redis-server stop", "manual", "stop"),
    ("pkill -f worker", "manual", "kills"),
    ("kill -9 1234", "manual", "kills"),
    ("rm -rf /tmp/cache", "manual", "deletes"),
    ("find /tmp -name '*.tmp'", "text", "file search"),
    ("truncate -s 0 logs/app.log", "manual", "truncates"),
    ("export LOG_LEVEL=debug", "manual", "variable"),
    ("LOG_LEVEL=debug", "manual", "variable"),
    ("echo 1 > /proc/sys/vm/drop_caches", "manual", "writes"),
    ("sed -i 's/a/b/' app.conf", "manual", "in place"),
    ("heroku ps:scale web=4", "manual", "ps:scale"),
    ("fly scale count 3", "manual", "scale"),
    ("vercel rollback", "manual", "rollback"),
    ("gh pr merge 12", "manual", "merge"),
    ("gh api -X POST repos/o/r/dispatches", "manual", "POST"),
    ("aws s3 rm s3://bucket/key", "manual", "rm"),
    ("aws logs tail /ecs/api", "text", "aws CLI"),
    ("railway logs --service x", "text", "railway CLI"),
    ("terraform apply", "manual", "apply"),
    ("helm rollback api 3", "manual", "rollback"),
    ("npm install", "manual", "installs"),
    ("bun run dev:all", "manual", "project script"),
    ("python3 scripts/check_db_connection_pool.py", "text", "script"),
    ("python3 scripts/fix_data.py", "manual", "(fix)"),
    ("echo $DATABASE_URL", "text", "secrets"),
    ("kill $(pgrep -f worker)", "manual", "kills"),
    ("echo $(rm -rf /)", "manual", "deletes"),
    ("dig +short api.example.com", "call", "ik.probes.dns"),
    ("dig @1.1.1.1 MX example.com", "call", "ik.probes.dns"),
    ("curl -s 'http://prom:9090/api/v1/query?query=up%7Bjob%3D%22api%22%7D'", "call", "ik.prometheus.query"),
    ("curl -G http://prom:9090/api/v1/query_range --data-urlencode 'query=rate(x[5m])'", "call", "query_range"),
    ("curl -G http://h/api/search --data-urlencode 'q=a'", "call", "ik.probes.http"),
    ("curl http://localhost:8080/admin/cache/flush", "manual", "action (flush)"),
    ("curl 'http://h/api/jobs?action=restart&id=3'", "manual", "action (restart)"),
    ("curl http://h/api/status?start=-1h", "manual", "action (start)"),
    ("cat logs/app.log | xargs rm", "manual", "deletes"),
    ("find /var/log -name '*.gz' -mtime +7 -delete", "manual", "deletes"),
    ("find /tmp -name '*.tmp' -exec rm {} \\;", "manual", "deletes"),
    ("watch -n 5 kubectl delete pod x", "manual", "delete"),
    ("timeout 5 systemctl restart nginx", "manual", "restart"),
    ("ssh web1 'sudo systemctl restart nginx'", "manual", "another host"),
    ("ssh web1 uptime", "text", "another host"),
    ('psql -c "SELECT 1" -c "DELETE FROM t"', "manual", "DELETE"),
    ("cat logs/app.log | sh", "manual", "shell commands"),
    ("cat logs/app.log | bash -c 'rm x'", "manual", "deletes"),
    ("python manage.py migrate", "manual", "migrate"),
    ("node scripts/backfill.js", "manual", "backfill"),
    ("vercel --prod", "manual", "deploys"),
    ("ssh -i key.pem deploy@web1 'sudo systemctl restart nginx'", "manual", "another host"),
    ("git -C /srv/app log --oneline -5", "call", "ik.deploys.git"),
    ("git -C /srv/app push", "manual", "git push"),
    ("rsync -av build/ web1:/srv/app", "manual", "copies"),
    ("grep -c ERROR logs/app.log | tee count.txt", "manual", "writes"),
    ("frobnicate --now", "text", "not a command incident_kit knows"),
    ('curl "http://h/x', "text", "could not be parsed"),
])
def test_classification(command: str, outcome: str, detail: str) -> None:
    step = classify(Command(command, "shell", []), ParameterSet())
    assert step.outcome == outcome, (command, step.reason)
    assert detail in (step.call.func if step.call else step.reason), (command, step.reason)


@pytest.mark.parametrize("sql, outcome", [
    ("SELECT * FROM pg_stat_activity;", "call"),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "call"),
    ("EXPLAIN SELECT 1", "call"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = [PID]", "manual"),
    ("SELECT setval('s', 1)", "manual"),
    ("SELECT * INTO backup FROM orders", "manual"),
    ("UPDATE t SET a = 1", "manual"),
    ("ALTER SYSTEM SET max_connections = 200", "manual"),
    ("SELECT 1; DELETE FROM t", "manual"),
])
def test_sql_classification(sql: str, outcome: str) -> None:
    step = classify(Command(sql, "sql", []), ParameterSet())
    assert step.outcome == outcome, (sql, step.reason)
