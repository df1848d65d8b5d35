"""What each shell program does to a system: the tables the command classifier consults.

A command becomes a notebook call only when a rule here says it reads and an incident_kit
source does the same read. Everything that changes a system, and everything unknown, stays
out of code cells. Reasons are short phrases shown to the reader ("restarts a service").
"""

from __future__ import annotations

#: Programs whose every use changes a system -> why.
MUTATING_PROGRAMS: dict[str, str] = {
    "kill": "kills a process", "pkill": "kills processes", "killall": "kills processes",
    "rm": "deletes files", "rmdir": "deletes directories", "shred": "destroys files", "unlink": "deletes a file",
    "mv": "moves files", "cp": "copies files", "truncate": "truncates files", "dd": "writes a device or file",
    "touch": "creates or modifies files", "mkdir": "creates directories", "ln": "creates links",
    "chmod": "changes permissions", "chown": "changes ownership", "tee": "writes files",
    "reboot": "reboots a host", "shutdown": "shuts a host down", "halt": "halts a host", "poweroff": "powers a host off",
    "export": "sets an environment variable", "unset": "unsets a variable", "set": "sets shell options",
    "setx": "sets an environment variable", "source": "runs a script in the shell", ".": "runs a script in the shell",
    "crontab": "changes scheduled jobs", "iptables": "changes the firewall", "ufw": "changes the firewall",
    "sysctl": "changes kernel settings", "mount": "mounts a file system", "umount": "unmounts a file system",
    "swapoff": "changes swap", "swapon": "changes swap", "logrotate": "rotates (and may delete) logs",
    "apt": "installs or removes software", "apt-get": "installs or removes software", "yum": "installs software",
    "dnf": "installs software", "apk": "installs software", "brew": "installs software", "pip": "installs software",
    "pip3": "installs software", "npx": "runs a package", "make": "runs build or deploy targets",
    "sed": "may edit files in place", "vim": "edits files", "vi": "edits files", "nano": "edits files",
    "psql-restore": "restores a database", "pg_restore": "restores a database", "dropdb": "drops a database",
    "createdb": "creates a database", "vacuumdb": "vacuums a database", "reindexdb": "reindexes a database",
}

#: Service managers: verb -> mutating when in this set.
SERVICE_MUTATING_VERBS = {"restart", "stop", "start", "reload", "enable", "disable", "kill", "mask", "unmask",
                          "try-restart", "reload-or-restart", "daemon-reload", "isolate", "reset-failed"}

#: git subcommands that only read; everything else changes a repository or a remote.
GIT_READ_VERBS = {"log", "shortlog", "show", "diff", "status", "blame", "describe", "rev-parse", "rev-list",
                  "ls-files", "ls-remote", "grep", "reflog", "whatchanged", "cat-file", "branch", "remote", "tag"}

#: Vendor CLIs with no incident_kit source (their output is for a human to read).
VENDOR_CLIS = {
    "railway", "doctl", "gh", "aws", "gcloud", "gsutil", "az", "heroku", "fly", "flyctl", "vercel", "netlify",
    "render", "supabase", "stripe", "wrangler", "sentry-cli", "terraform", "helm", "pulumi", "firebase", "pm2",
    "eb", "kubectl", "docker", "docker-compose", "podman", "nomad", "consul", "vault", "ansible", "oc", "k9s",
    "mux", "pscale", "neonctl", "upstash", "render-cli", "cf", "ibmcloud", "linode-cli", "hcloud", "scw",
}

#: Words that make a vendor CLI call change something (``railway rollback``, ``kubectl scale``...).
VENDOR_MUTATING_VERBS = {
    "up", "deploy", "redeploy", "rollback", "restart", "set", "unset", "delete", "del", "rm", "remove",
    "destroy", "scale", "apply", "create", "update", "patch", "edit", "revert", "stop", "start", "kill",
    "cancel", "rerun", "merge", "close", "promote", "put", "invoke", "cp", "mv", "sync", "login", "logout",
    "link", "unlink", "init", "reset", "resize", "reboot", "terminate", "disable", "enable", "purge", "publish",
    "release", "push", "pull", "upgrade", "install", "uninstall", "add", "attach", "detach", "import", "restore",
    "failover", "pause", "resume", "suspend", "trigger", "dispatch", "exec", "ssh", "shell", "connect", "run",
    "annotate", "label", "taint", "cordon", "uncordon", "drain", "replace", "rollout", "autoscale", "expose",
    "compose", "prune", "tag", "build", "lock", "unlock", "approve", "reopen", "comment", "fork", "clone",
    "rename", "archive", "transfer", "secrets", "secret",
}
#: (CLI, first word) pairs where a mutating-looking word is a noun: ``gh run list``, ``railway run`` is not.
VENDOR_NOUNS = {("gh", "run"), ("gh", "release"), ("gh", "secret"), ("gh", "workflow"), ("docker", "compose")}
#: Words that keep a vendor call read-only even after a noun (``gh run list``, ``gh run view``).
VENDOR_READ_VERBS = {"list", "ls", "view", "watch", "status", "logs", "log", "get", "describe", "show", "top",
                     "inspect", "info", "whoami", "version", "diff", "history", "deployments", "domains", "ps"}

#: Package managers: ``npm run X`` / ``bun run workers`` start processes or change files.
PACKAGE_MANAGERS = {"npm", "yarn", "pnpm", "bun", "deno", "cargo", "go", "gem", "composer", "poetry", "uv"}

#: Interpreters: running a project script has effects the importer cannot know.
INTERPRETERS = {"python", "python3", "node", "ruby", "perl", "bash", "sh", "zsh", "php", "java", "tsx", "ts-node"}

#: Read-only shell commands without an incident_kit source: shown, not run (reason).
READ_ONLY_NO_SOURCE: dict[str, str] = {
    "du": "directory sizes", "ls": "directory listing", "find": "file search", "stat": "file metadata",
    "wc": "line counts", "lsof": "open files", "netstat": "sockets", "ss": "sockets", "ping": "ICMP ping",
    "traceroute": "route trace", "mtr": "route trace", "top": "live process view", "htop": "live process view",
    "uname": "system name", "whoami": "user name", "date": "clock", "env": "environment (may print secrets)",
    "printenv": "environment (may print secrets)", "echo": "prints text or variables (may print secrets)",
    "cat": "prints a file", "jq": "JSON filter", "sleep": "a wait", "watch": "repeats a command",
    "openssl": "crypto tool", "lscpu": "CPU details", "dmesg": "kernel log", "journalctl": "systemd journal",
    "strace": "system call trace", "tcpdump": "packet capture", "ab": "load test", "hey": "load test",
    "wrk": "load test", "k6": "load test", "mongosh": "MongoDB shell", "mongo": "MongoDB shell",
    "pg_dump": "database dump", "which": "program lookup", "id": "user ids", "hostname": "host name",
    "nproc": "CPU count", "grep": "a search in files that are not logs", "egrep": "a file search",
    "zgrep": "a file search", "head": "prints part of a file", "tail": "prints part of a file",
    "less": "a file viewer", "more": "a file viewer", "zcat": "prints a file", "ssh": "a command on another host", "pgrep": "process search", "sort": "sorting", "uniq": "deduplication",
}

#: Redis commands that read what a source returns: ``ik.redis.info`` or ``ik.redis.queues``.
REDIS_INFO = {"PING", "INFO"}
REDIS_LENGTHS = {"LLEN", "XLEN", "ZCARD", "SCARD", "HLEN"}
#: Redis commands that only read but have no source call (shown, not run).
REDIS_READ_ONLY = {"GET", "MGET", "KEYS", "SCAN", "TYPE", "TTL", "PTTL", "EXISTS", "LRANGE", "LINDEX", "HGET",
                   "HGETALL", "HKEYS", "SMEMBERS", "ZRANGE", "ZSCORE", "XRANGE", "XINFO", "XPENDING", "DBSIZE",
                   "MONITOR", "SLOWLOG", "MEMORY", "LATENCY", "CLIENT", "CONFIG", "STRLEN", "OBJECT",
                   "TIME", "ROLE", "LOLWUT", "COMMAND", "CLUSTER"}
#: Subcommands that turn a read-only Redis command into a write.
REDIS_MUTATING_SUBCOMMANDS = {("CLIENT", "KILL"), ("CLIENT", "PAUSE"), ("CONFIG", "SET"), ("CONFIG", "RESETSTAT"),
                              ("CONFIG", "REWRITE"), ("SLOWLOG", "RESET"), ("MEMORY", "PURGE"),
                              ("LATENCY", "RESET"), ("CLUSTER", "FAILOVER"), ("CLUSTER", "RESET")}

#: Pipeline stages that only filter what the first command printed.
FILTERS = {"grep", "egrep", "fgrep", "head", "tail", "jq", "sort", "uniq", "wc", "cut", "awk", "less", "more",
           "cat", "column", "tr", "sed"}

__all__ = [name for name in dir() if name.isupper()]
