"""Snowflake source against fakesnow's server on 127.0.0.1, through the real connector."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from decimal import Decimal

import pytest
from conftest import REPO, free_port, write_project

from flowproject import cli, observe
from flowproject.sources import SnowflakeCredentialsError, SnowflakeError, SqlTemplateError, fingerprint
from flowproject.sources.snowflake import json_safe, query_tag
from flowproject.sources.snowflake_connection import connection_kwargs, describe_error, session_parameters


def with_sensor_sql(folder):
    """Give a project folder its own sql/sensor.sql: templates come only from the project."""
    import shutil

    (folder / "sql").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "sql" / "sensor.sql", folder / "sql" / "sensor.sql")
    return folder


DATABASE, SCHEMA = "FLOWDB", "SENSING"


@pytest.fixture(scope="session")
def fakesnow_server():
    """fakesnow's HTTP server in its own process (it patches nothing in ours), plus the
    SNOWFLAKE_* variables that reach it; the database and schema exist."""
    import snowflake.connector

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/" % port)
                break
            except urllib.error.HTTPError:
                break  # answering, even if with a 404
            except OSError:
                time.sleep(0.05)
        env = {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "fake",
            "SNOWFLAKE_PASSWORD": "snow-secret-pw-1234",
            "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_DATABASE": DATABASE,
            "SNOWFLAKE_SCHEMA": SCHEMA,
        }
        conn = snowflake.connector.connect(
            account="fakesnow", user="fake", password="x", host="127.0.0.1", port=port, protocol="http"
        )
        cur = conn.cursor()
        cur.execute("CREATE DATABASE IF NOT EXISTS %s" % DATABASE)
        cur.execute("CREATE SCHEMA IF NOT EXISTS %s.%s" % (DATABASE, SCHEMA))
        conn.close()
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Warehouse:
    def __init__(self, env):
        self.env = env

    def execute(self, *statements):
        import snowflake.connector

        conn = snowflake.connector.connect(
            account="fakesnow",
            user="fake",
            password="x",
            host="127.0.0.1",
            port=int(self.env["SNOWFLAKE_PORT"]),
            protocol="http",
            database=DATABASE,
            schema=SCHEMA,
        )
        try:
            cur = conn.cursor()
            for s in statements:
                if isinstance(s, tuple):
                    cur.execute(*s)
                else:
                    cur.execute(s)
        finally:
            conn.close()

    def new_table(self):
        name = "ORDERS_%s" % uuid.uuid4().hex[:8].upper()
        self.execute("CREATE TABLE %s (id INT, amount NUMBER(10,2), updated_at TIMESTAMP)" % name)
        return "%s.%s.%s" % (DATABASE, SCHEMA, name)


@pytest.fixture
def snow(fakesnow_server, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SNOWFLAKE_") or name == "FLOWPROJECT_SQL_DIR":
            monkeypatch.delenv(name)
    for k, v in fakesnow_server.items():
        monkeypatch.setenv(k, v)
    return Warehouse(fakesnow_server)


def sfdata(template="sensor", params=None, **extra):
    return dict({"type": "snowflake", "template": template, "params": params, "timeout_seconds": 30}, **extra)


# -- observing a table ------------------------------------------------------------------------------


def test_repo_sensor_template_detects_new_rows_and_is_stable_otherwise(snow):
    table = snow.new_table()
    snow.execute("INSERT INTO %s VALUES (1, 2.50, '2024-01-01 10:00:00')" % table)
    first = observe(sfdata(params={"table": table}), run_pathspec="SensorFlow/7/start/21")
    assert first.value == [[1, "2024-01-01T10:00:00"]]
    assert first.fingerprint == fingerprint(first.value)
    assert first.summary == 'sql/sensor.sql: 1 row, first {"LAST_UPDATED":"2024-01-01T10:00:00","ROW_COUNT":1}'
    assert observe(sfdata(params={"table": table})) == first

    snow.execute("INSERT INTO %s VALUES (2, 7.25, '2024-01-02 08:30:00')" % table)
    second = observe(sfdata(params={"table": table}))
    assert second.value == [[2, "2024-01-02T08:30:00"]]
    assert second.fingerprint != first.fingerprint


def test_rows_are_plain_json_lists_and_parameters_are_bound(snow, tmp_path, monkeypatch):
    table = snow.new_table()
    snow.execute(
        "INSERT INTO %s VALUES (1, 2.50, '2024-01-01 10:00:00'), (2, 3.00, '2024-02-01 00:00:00'), (3, 1.25, '2024-03-01 00:00:00')"
        % table
    )
    (tmp_path / "by_id.sql").write_text(
        "SELECT id, amount, updated_at FROM IDENTIFIER(%(table)s) WHERE id >= %(min_id)s ORDER BY id"
    )
    monkeypatch.setenv("FLOWPROJECT_SQL_DIR", str(tmp_path))
    obs = observe(sfdata("by_id", {"table": table, "min_id": 2}))
    assert obs.value == [[2, "3.00", "2024-02-01T00:00:00"], [3, "1.25", "2024-03-01T00:00:00"]]
    json.dumps(obs.value)  # plain JSON, no Decimal or datetime left


def test_a_quote_in_a_parameter_is_data_not_sql(snow, tmp_path, monkeypatch):
    table = snow.new_table()
    snow.execute(
        "CREATE TABLE %s.%s.PEOPLE (name VARCHAR)" % (DATABASE, SCHEMA), "INSERT INTO PEOPLE VALUES ('O''Brien')"
    )
    (tmp_path / "people.sql").write_text("SELECT COUNT(*) FROM PEOPLE WHERE name = %(name)s")
    monkeypatch.setenv("FLOWPROJECT_SQL_DIR", str(tmp_path))
    assert observe(sfdata("people", {"name": "O'Brien"})).value == [[1]]
    assert observe(sfdata("people", {"name": "x' OR '1'='1"})).value == [[0]]
    assert table  # a fresh table exists; the PEOPLE table is what the query reads


def test_a_failing_query_is_one_clear_error(snow, tmp_path, monkeypatch):
    (tmp_path / "broken.sql").write_text("SELECT * FROM NO_SUCH_TABLE_XYZ")
    monkeypatch.setenv("FLOWPROJECT_SQL_DIR", str(tmp_path))
    with pytest.raises(SnowflakeError) as err:
        observe(sfdata("broken"))
    assert str(err.value).startswith("snowflake: sql/broken.sql: ")
    assert "\n" not in str(err.value)


# -- templates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "/etc/passwd", "a/b", "..", ".hidden", "sub\\x"])
def test_template_must_be_a_plain_name(snow, name):
    with pytest.raises(SqlTemplateError, match="is not a plain template name"):
        observe(sfdata(name))


def test_missing_template_lists_the_available_ones(snow):
    with pytest.raises(SqlTemplateError) as err:
        observe(sfdata("nope"))
    assert str(err.value) == "data.template: %s not found; available in %s: sensor" % (
        REPO / "sql" / "nope.sql",
        REPO / "sql",
    )


def test_template_name_may_carry_the_sql_suffix(snow):
    table = snow.new_table()
    snow.execute("INSERT INTO %s VALUES (1, 1.00, '2024-01-01 00:00:00')" % table)
    assert observe(sfdata("sensor.sql", {"table": table})).value == [[1, "2024-01-01T00:00:00"]]


# -- credentials ---------------------------------------------------------------------------------------


def test_missing_credentials_name_the_variables(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SNOWFLAKE_"):
            monkeypatch.delenv(name)
    with pytest.raises(SnowflakeCredentialsError) as err:
        observe(sfdata(params={"table": "T"}))
    assert str(err.value) == (
        "Snowflake credentials missing: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, "
        "SNOWFLAKE_PRIVATE_KEY_FILE or SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PASSWORD "
        "(or [data] integration on Outerbounds)"
    )


def test_failed_connection_does_not_leak_the_password(snow, monkeypatch):
    secret = "Sup3r-Secret-Passw0rd"
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", secret)
    monkeypatch.setenv("SNOWFLAKE_PORT", str(free_port()))  # nothing listens there
    with pytest.raises(SnowflakeError) as err:
        observe(sfdata(params={"table": "T"}, timeout_seconds=5))
    text = str(err.value)
    assert text.startswith("snowflake: connecting to account 'fakesnow' as user 'fake' at http://127.0.0.1:")
    assert secret not in text and secret not in repr(err.value)
    # The connector's exception is not chained, so a traceback cannot show it either.
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_secrets_in_a_connector_message_are_masked_as_whole_tokens(monkeypatch):
    import snowflake.connector

    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "snow")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "p@ss phrase!")
    err = snowflake.connector.errors.OperationalError(
        msg="login to snowflake failed: password=snow\nphrase 'p@ss phrase!'"
    )
    assert (
        describe_error(err, "snowflake: x")
        == "snowflake: x: login to snowflake failed: password=[masked] phrase '[masked]'"
    )


def _pem(passphrase=None):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def test_key_pair_from_file_wins_over_password(tmp_path):
    from cryptography.hazmat.primitives import serialization

    key, pem = _pem("pass phrase")
    path = tmp_path / "rsa_key.p8"
    path.write_bytes(pem)
    kwargs = connection_kwargs(
        {
            "SNOWFLAKE_ACCOUNT": "acme-xy123",
            "SNOWFLAKE_USER": "SENSOR",
            "SNOWFLAKE_ROLE": "READER",
            "SNOWFLAKE_WAREHOUSE": "XS",
            "SNOWFLAKE_PRIVATE_KEY_FILE": str(path),
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "pass phrase",
            "SNOWFLAKE_PASSWORD": "ignored",
            "SNOWFLAKE_PORT": "8443",
        }
    )
    der = kwargs.pop("private_key")
    assert kwargs == {"account": "acme-xy123", "user": "SENSOR", "role": "READER", "warehouse": "XS", "port": 8443}
    assert serialization.load_der_private_key(der, None).private_numbers() == key.private_numbers()


def test_key_pair_from_pem_text_and_a_wrong_passphrase_is_explained():
    _, pem = _pem("right")
    env = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u", "SNOWFLAKE_PRIVATE_KEY": pem.decode()}
    with pytest.raises(SnowflakeCredentialsError) as err:
        connection_kwargs(dict(env, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE="wrong-phrase"))
    assert "SNOWFLAKE_PRIVATE_KEY: cannot load the private key" in str(err.value)
    assert "wrong-phrase" not in str(err.value) and "PRIVATE KEY-----" not in str(err.value)
    assert "private_key" in connection_kwargs(dict(env, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE="right"))


def test_session_carries_the_query_tag_and_statement_timeout():
    assert session_parameters(query_tag("SensorFlow/12/start/3"), 45) == {
        "QUERY_TAG": "flowproject sensor SensorFlow/12/start/3",
        "STATEMENT_TIMEOUT_IN_SECONDS": 45,
    }
    assert query_tag(None) == "flowproject check"


def test_cells_become_json_values_deterministically():
    row = [
        Decimal("12"),
        Decimal("2.50"),
        dt.datetime(2024, 1, 2, 3, 4, 5),
        dt.date(2024, 1, 2),
        b"\x00\x01",
        1.5,
        None,
        "s",
    ]
    assert json_safe(row) == [12, "2.50", "2024-01-02T03:04:05", "2024-01-02", "AAE=", 1.5, None, "s"]
    assert json_safe(float("nan")) == "nan"


# -- from a flow step, the decorator, and the CLI ---------------------------------------------------------

SNOW_FLOW = """
import json
from metaflow import step
from flowproject import BaseFlow, snowflake


class SnowWatchFlow(BaseFlow):
    @snowflake
    @step
    def start(self):
        obs = self.query()
        self.observation = obs.to_dict()
        print("OBSERVED " + json.dumps(self.observation))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SnowWatchFlow()
"""


def test_a_flow_step_observes_snowflake_in_its_own_process(sandbox, snow, fakesnow_server, tmp_path):
    table = snow.new_table()
    snow.execute("INSERT INTO %s VALUES (1, 1.00, '2024-05-06 07:08:09')" % table)
    project = write_project(
        tmp_path / "proj",
        """
        project_name = "snowwatch"
        [data]
        type = "snowflake"
        template = "sensor"
        params = { table = "%s" }
        timeout_seconds = 60
        """
        % table,
        {"snowwatch.flow.py": SNOW_FLOW},
    )
    with_sensor_sql(project)
    # A plain run: @snowflake adds no @pypi outside --environment=pypi, so this works.
    proc = sandbox.run_ok(["flows/snowwatch.flow.py", "run"], cwd=project, env=fakesnow_server)
    line = [line for line in proc.stdout.splitlines() if "OBSERVED " in line][-1]
    seen = json.loads(line.split("OBSERVED ", 1)[1])
    assert seen["value"] == [[1, "2024-05-06T07:08:09"]]
    assert fakesnow_server["SNOWFLAKE_PASSWORD"] not in proc.stdout + proc.stderr


SPY_FLOW = '''
from metaflow import StepMutator, pypi, step
from flowproject import BaseFlow, snowflake


class Spy(StepMutator):
    """Applied after @snowflake (outermost), so it sees what @snowflake decided."""

    def init(self, label):
        self.label = label

    def mutate(self, mutable_step):
        found = {n: kw.get("packages") for n, _, _, kw in mutable_step.decorator_specs if n == "pypi"}
        print("SPY %s %r" % (self.label, found))


class DecoFlow(BaseFlow):
    @Spy("start")
    @snowflake
    @step
    def start(self):
        self.next(self.end)

    @Spy("end")
    @snowflake
    @pypi(packages={"snowflake-connector-python": "==4.0.0", "six": ""})
    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoFlow()
'''


def test_snowflake_decorator_adds_pypi_from_the_extra_only_in_a_pypi_environment(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", 'project_name = "deco"\n', {"deco.flow.py": SPY_FLOW})
    virtual = sandbox.run_ok(["flows/deco.flow.py", "--environment=pypi", "show"], cwd=project).stdout
    # The version spec is the pyproject extra's, not a literal in the decorator.
    assert "SPY start {'pypi': {'snowflake-connector-python': '>=3.6'}}" in virtual
    # A step's own @pypi pin wins; its other packages are kept.
    assert "SPY end {'pypi': {'snowflake-connector-python': '==4.0.0', 'six': ''}}" in virtual
    # Without a virtual environment @snowflake adds nothing (the static @pypi on `end`
    # makes Metaflow itself refuse this command, after the mutators ran).
    plain = sandbox.run(["flows/deco.flow.py", "show"], cwd=project).stdout
    assert "SPY start {}" in plain


def test_cli_check_json_snowflake(snow, tmp_path, capsys):
    table = snow.new_table()
    snow.execute("INSERT INTO %s VALUES (1, 9.99, '2024-02-03 04:05:06'), (2, 1.00, '2024-02-04 00:00:00')" % table)
    cfg = with_sensor_sql(tmp_path) / "flowproject.toml"
    cfg.write_text(
        'project_name = "p"\n[data]\ntype = "snowflake"\ntemplate = "sensor"\nparams = { table = "%s" }\n' % table
    )
    assert cli.main(["check", "--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == [[2, "2024-02-04T00:00:00"]]
    assert out["fingerprint"] == fingerprint(out["value"])


def test_code_package_carries_pyproject_so_pods_read_the_same_extras(sandbox):
    proc = sandbox.run_ok(["flows/hello.flow.py", "package", "list"], cwd=REPO)
    assert str(REPO / "pyproject.toml") in proc.stdout + proc.stderr


def test_templates_come_from_the_projects_own_sql_folder(snow, tmp_path):
    # A user project beside an installed flowproject: its sql/ wins over any other.
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "mine.sql").write_text("SELECT 41 + 1 AS answer")
    assert observe(sfdata("mine"), project_dir=tmp_path).value == [[42]]
    with pytest.raises(SqlTemplateError, match="available in %s: mine$" % (tmp_path / "sql")):
        observe(sfdata("sensor"), project_dir=tmp_path)


# -- timeout_seconds bounds the client: a TCP proxy in front of fakesnow that stalls ---------------


class StallingProxy:
    """A TCP proxy on 127.0.0.1 in front of fakesnow's server.

    ``silent``: accepts connections and never says anything (a login to a silent server).
    ``stall-queries``: relays everything, but holds any request that runs a query, so its
    answer never comes (login and session work).
    """

    # Queries, their result polling and their abort: everything after the login.
    QUERY_PATH = b"/queries/"

    def __init__(self, target_port: int, mode: str) -> None:
        import socket
        import threading

        self.target_port, self.mode = target_port, mode
        self.stop = threading.Event()
        self.held = 0
        self.sockets = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.mode == "silent":
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets.append(upstream)
            threading.Thread(target=self._relay, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client, False), daemon=True).start()

    def _relay(self, src, dst, to_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    return
                if to_server and self.QUERY_PATH in data:
                    self.held += 1
                    self.stop.wait()
                    return
                dst.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for s in self.sockets:
            s.close()


OBSERVE_IN_A_PROCESS = """
import time
from flowproject import observe
from flowproject.sources import SnowflakeError
try:
    observe({"type": "snowflake", "template": "sensor", "params": {"table": "T"}, "timeout_seconds": %d})
except SnowflakeError as e:
    print("ERROR " + str(e))
time.sleep(%d)  # the connector's query-cancelling timer, if any, fires in here
"""
# What fails the test if timeout_seconds did not bound the client: the issue measured
# 62 s for a 2 s login and 8 minutes for a query.
HUNG = 50


def _observe_through(proxy, fakesnow_server, sandbox, timeout_seconds=2):
    env = dict(fakesnow_server, SNOWFLAKE_PORT=str(proxy.port), SNOWFLAKE_PASSWORD="snow-Secr3t-pw")
    with_sensor_sql(sandbox.root)  # the process runs there, outside any project: ./sql
    return sandbox.run(["-c", OBSERVE_IN_A_PROCESS % (timeout_seconds, timeout_seconds + 2)], env=env, timeout=HUNG)


def test_login_to_a_silent_server_gives_up_after_timeout_seconds(fakesnow_server, sandbox):
    proxy = StallingProxy(int(fakesnow_server["SNOWFLAKE_PORT"]), "silent")
    try:
        proc = _observe_through(proxy, fakesnow_server, sandbox)
    finally:
        proxy.close()
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ERROR snowflake: connecting to account 'fakesnow'"), proc.stdout
    assert out[0].endswith("gave up after [data] timeout_seconds = 2")
    assert proc.stderr.strip() == "" and "snow-Secr3t-pw" not in proc.stdout


def test_a_query_whose_answer_never_comes_gives_up_after_timeout_seconds(fakesnow_server, sandbox):
    proxy = StallingProxy(int(fakesnow_server["SNOWFLAKE_PORT"]), "stall-queries")
    try:
        proc = _observe_through(proxy, fakesnow_server, sandbox)
    finally:
        proxy.close()
    assert proxy.held >= 1  # the login went through; the query is what never came back
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ERROR snowflake: sql/sensor.sql: "), proc.stdout
    assert out[0].endswith("gave up after [data] timeout_seconds = 2")
    # No stray traceback from the connector's own threads after our one line: its timer's
    # abort of the query fails too (the server is silent) and says so in one line.
    assert "Traceback" not in proc.stderr, proc.stderr
    for line in proc.stderr.strip().splitlines():
        assert line.startswith("snowflake: cancelling the timed-out query failed too: "), line
    assert "snow-Secr3t-pw" not in proc.stdout + proc.stderr


def test_client_timeouts_follow_timeout_seconds():
    from flowproject.sources.snowflake_connection import client_timeouts

    assert client_timeouts(45) == {"login_timeout": 45, "network_timeout": 45, "socket_timeout": 45}
