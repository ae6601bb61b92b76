"""The team stack on one machine, on loopback: PostgreSQL as MLflow's backend store, an S3-compatible
object store (moto), an MLflow server that proxies artifacts into it (clients need no S3 credentials),
and a DVC remote on the same store.

`python -m ops team up` (make team-up) starts what is not running and prints the exports;
`team down` (make team-down) stops every process it started. PostgreSQL's data and the logs live in
.team/ under the project (ignored by git and DVC); the ports and process ids in .team/state.json.
moto keeps its objects in memory: they are gone after `team down`, the database is not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from autoencoders.errors import UserError

TEAM = ".team"  # under the project: PostgreSQL's data, the logs, state.json (ignored by git and DVC)
BUCKET = "autoencoders"
DATABASE = "mlflow"
# moto accepts any key; the same pair goes to the MLflow server (artifact proxy) and the DVC remote.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "team", "AWS_SECRET_ACCESS_KEY": "team-secret", "AWS_DEFAULT_REGION": "us-east-1"}
DVC_REMOTE = "team"
HOST = "127.0.0.1"


class TeamError(UserError, RuntimeError):
    """A piece of the stack is missing or did not come up."""


# --- helpers -------------------------------------------------------------------------------------


def free_port(preferred: int | None = None, taken: tuple[int, ...] = ()) -> int:
    """preferred when it is free (a restarted server keeps its address), else any free port; never one
    of taken (given to a server that has not bound it yet)."""
    for port in ([preferred] if preferred else []) + [0] * 3:
        with socket.socket() as s:
            # as the servers bind: a port just released by a stopped server lingers in TIME_WAIT
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            if s.getsockname()[1] not in taken:
                return s.getsockname()[1]
    raise TeamError(f"no free port on {HOST}")


def wait_http(url: str, what: str, timeout: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:  # it answers: up
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    hint = f"; its log: {log}" if log else ""
    raise TeamError(f"{what} did not answer at {url} within {timeout:.0f} s{hint}")


def executable(name: str, hint: str) -> str:
    """A program from the venv (next to this Python) or PATH, or an error that says how to install it."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise TeamError(f"{name} not found: {hint}")
    return found


def postgres_binary(name: str) -> str:
    """initdb / pg_ctl from PATH or Debian's versioned folder."""
    candidates = [shutil.which(name)] + sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    for found in candidates:
        if found:
            return str(found)
    raise TeamError(
        f"PostgreSQL's {name} not found: install the server binaries (Debian/Ubuntu: "
        f"`apt-get install postgresql`; macOS: `brew install postgresql@15`)"
    )


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(pid: int | None, timeout: float = 15) -> None:
    """SIGTERM to the process group it leads (a server and its workers), SIGKILL if it lingers."""
    if not alive(pid):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:  # our child: reap it
                    return
            except ChildProcessError:  # started by an earlier `team up`
                if not alive(pid):
                    return
            time.sleep(0.2)


# --- PostgreSQL ----------------------------------------------------------------------------------


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user (Debian's package
    creates it); otherwise as whoever we are."""
    if os.geteuid() != 0:
        return cmd
    return [
        executable("runuser", "util-linux's runuser is needed to start PostgreSQL as root"),
        "-u",
        "postgres",
        "--",
        *cmd,
    ]


def start_postgres(data: Path, port: int, log: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        data.chmod(0o700)
        shutil.chown(log.parent, "postgres")
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_server_user(
                [
                    postgres_binary("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    DATABASE,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
        )
    options = f"-p {port} -c listen_addresses={HOST} -k {data}"  # the socket in the data folder: no system path
    result = subprocess.run(
        _as_server_user(
            [postgres_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise TeamError(
            f"PostgreSQL did not start on {HOST}:{port}: {result.stderr.strip() or result.stdout.strip()}; "
            f"its log: {log}"
        )


def ensure_database(port: int) -> None:
    import psycopg2

    conn = psycopg2.connect(host=HOST, port=port, user=DATABASE, dbname="postgres")
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()


def postgres_running(data: Path) -> bool:
    if not (data / "PG_VERSION").exists():
        return False
    return (
        subprocess.run(
            _as_server_user([postgres_binary("pg_ctl"), "-D", str(data), "status"]), capture_output=True
        ).returncode
        == 0
    )


def restart_postgres(data: Path) -> None:
    """What a database upgrade or a crash does to the clients: every connection dropped."""
    # -l: the restarted server must not inherit our output (an open pipe would block the caller)
    subprocess.run(
        _as_server_user(
            [
                postgres_binary("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data.parent / "postgres.log"),
                "-m",
                "fast",
                "-w",
                "restart",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_postgres(data: Path) -> None:
    if postgres_running(data):
        subprocess.run(
            _as_server_user([postgres_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )


# --- the stack -----------------------------------------------------------------------------------


def _spawn(cmd: list[str], log: Path, env: dict | None = None) -> int:
    """A server in a session of its own (it outlives `team up`); returns its pid."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        ).pid


def _spawn_object_store(port: int, log: Path) -> int:
    return _spawn([executable("moto_server", "pip install -e '.[team]'"), "-H", HOST, "-p", str(port)], log)


def wait_object_store(port: int, log: Path) -> None:
    """Until it answers; then the bucket, if it is not there (moto starts empty)."""
    wait_http(f"http://{HOST}:{port}/", "the object store (moto_server)", log=log)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{HOST}:{port}",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)


def backend_uri(pg_port: int) -> str:
    return f"postgresql+psycopg2://{DATABASE}@{HOST}:{pg_port}/{DATABASE}"


def _spawn_tracking_server(port: int, pg_port: int, s3_port: int, log: Path) -> int:
    env = {
        **CREDENTIALS,
        "MLFLOW_S3_ENDPOINT_URL": f"http://{HOST}:{s3_port}",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }  # no GenAI job workers: see `ui`
    return _spawn(
        [
            executable("mlflow", "pip install -e '.[team]'"),
            "server",
            "--backend-store-uri",
            backend_uri(pg_port),
            "--artifacts-destination",
            f"s3://{BUCKET}/mlflow",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        log,
        env,
    )


def configure_dvc_remote(repo: Path, s3_port: int) -> None:
    """The remote in .dvc/config.local: this machine's ports are nobody else's business."""
    settings = [
        ["add", "--local", "--force", "--default", DVC_REMOTE, f"s3://{BUCKET}/dvc"],
        ["modify", "--local", DVC_REMOTE, "endpointurl", f"http://{HOST}:{s3_port}"],
        ["modify", "--local", DVC_REMOTE, "access_key_id", CREDENTIALS["AWS_ACCESS_KEY_ID"]],
        ["modify", "--local", DVC_REMOTE, "secret_access_key", CREDENTIALS["AWS_SECRET_ACCESS_KEY"]],
    ]
    for args in settings:
        subprocess.run(
            [executable("dvc", "pip install -e ."), "remote", *args], cwd=repo, check=True, capture_output=True
        )


def state_file(repo: Path) -> Path:
    return repo / TEAM / "state.json"


def read_state(repo: Path) -> dict:
    path = state_file(repo)
    return json.loads(path.read_text()) if path.exists() else {}


def exports(state: dict) -> list[str]:
    return [f"export MLFLOW_TRACKING_URI=http://{HOST}:{state['mlflow']['port']}"]


def up(repo: Path) -> dict:
    """Start whatever is not running; return the state (ports, pids)."""
    folder = repo / TEAM
    folder.mkdir(exist_ok=True)
    state, database = read_state(repo), folder / "postgres"

    def save(part: str, value: dict) -> None:  # at once: a later failure must not orphan a started server
        state[part] = value
        state_file(repo).write_text(json.dumps(state, indent=2))

    # The object store starts first and is waited for last: its few seconds of start-up overlap
    # PostgreSQL's initdb and start.
    new_store = not alive(state.get("s3", {}).get("pid"))
    if new_store:
        port = free_port(state.get("s3", {}).get("port"))
        save("s3", {"port": port, "pid": _spawn_object_store(port, folder / "s3.log")})
    if not postgres_running(database):
        start_postgres(
            database,
            free_port(state.get("postgres", {}).get("port"), taken=(state["s3"]["port"],)),
            folder / "postgres.log",
        )
    save("postgres", {"port": int((database / "postmaster.pid").read_text().splitlines()[3])})  # line 4: the port
    ensure_database(state["postgres"]["port"])
    if new_store:
        wait_object_store(state["s3"]["port"], folder / "s3.log")
        stop_process(state.get("mlflow", {}).get("pid"))  # it must point at the store's new address
    new_server = not alive(state.get("mlflow", {}).get("pid"))
    if new_server:
        port = free_port(state.get("mlflow", {}).get("port"), taken=(state["s3"]["port"], state["postgres"]["port"]))
        save(
            "mlflow",
            {
                "port": port,
                "pid": _spawn_tracking_server(
                    port, state["postgres"]["port"], state["s3"]["port"], folder / "mlflow.log"
                ),
            },
        )
    configure_dvc_remote(repo, state["s3"]["port"])  # four dvc commands while the server starts
    if new_server:
        wait_http(
            f"http://{HOST}:{state['mlflow']['port']}/health",
            "the MLflow server",
            timeout=120,
            log=folder / "mlflow.log",
        )
    return state


def down(repo: Path) -> None:
    """Stop every process `up` started; PostgreSQL's data stays for the next `up`."""
    state = read_state(repo)
    stop_process(state.get("mlflow", {}).get("pid"))
    stop_process(state.get("s3", {}).get("pid"))
    stop_postgres(repo / TEAM / "postgres")
    subprocess.run(
        [executable("dvc", "pip install -e ."), "remote", "remove", "--local", DVC_REMOTE],
        cwd=repo,
        capture_output=True,
    )
    state_file(repo).unlink(missing_ok=True)
