"""`tracejudge keys ...` as an operator uses them, and a bad gateway file refused at startup."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.keys import authenticate
from store import Database
from tests.support.processes import TRACEJUDGE, _environment


def test_create_prints_the_secret_once_and_the_store_keeps_only_its_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.db"
    assert main(["keys", "create", "--name", "ci", "--routes", "fast,backup", "--rpm", "60", "--tpm", "100000",
                 "--budget-usd-day", "5", "--budget-usd-month", "100", "--alert-at", "0.8", "--expires", "30d",
                 "--db", str(path)]) == 0  # fmt: skip
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("tjk-") and len(secret) > 40
    assert main(["keys", "list", "--json", "--db", str(path)]) == 0
    listed = capsys.readouterr().out
    [key] = json.loads(listed)["keys"]
    assert secret not in listed and key["prefix"] == secret[:12] and key["routes"] == ["fast", "backup"]
    assert (key["rpm"], key["tpm"], key["budget_usd_day"], key["state"]) == (60, 100_000, 5.0, "active")
    assert secret not in path.read_bytes().decode("latin-1")
    db = Database(path)
    try:
        assert authenticate(db, secret).name == "ci"
        assert main(["keys", "revoke", "ci", "--db", str(path)]) == 0
        with pytest.raises(GatewayError, match="revoked"):
            authenticate(db, secret)
    finally:
        db.close()


def test_create_refuses_a_taken_name_and_routes_the_configuration_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, config = tmp_path / "keys.db", tmp_path / "g.toml"
    config.write_text('[routes.fast]\nmodel = "openai/gpt-4o-mini"\n')
    assert main(["keys", "create", "--name", "a", "--routes", "fast", "--db", str(path)]) == 0
    assert main(["keys", "create", "--name", "a", "--routes", "fast", "--db", str(path)]) == 2
    assert "already named 'a'" in capsys.readouterr().err
    assert main(["keys", "create", "--name", "b", "--routes", "slow", "--gateway-config", str(config), "--db", str(path)]) == 2
    assert "['slow'] are not in" in capsys.readouterr().err


@pytest.mark.parametrize(("toml", "says"), [
    ('[routes.a]\nmodel = "gpt-4o"\n', "[routes.a]: model 'gpt-4o' is not in litellm's provider/model form"),
    ('[routes.a]\nmodel = "openai/x"\nfallback = "b"\n', "[routes.a]: fallback 'b' is not a route"),
    ('[routes.a]\nmodel = "openai/x"\nfallback = "a"\n', "go round in a circle"),
    ('[routes.a]\nmodel = "openai/x"\napi_key_env = "sk-live-123"\n', "NAME of an environment variable"),
    ('[routes.a]\nmodel = "openai/x"\ntimeout = 3\n', "[routes.a]: timeout: Extra inputs are not permitted"),
    ('[routes.a]\nmodel = "openai/x"\nguardrails = ["pii"]\n', "guardrails ['pii'] are not defined"),
    ('[routes.a]\nmodel = "openai/x"\n[guardrails.pii]\nkind = "pii"\nstages = ["input"]\naction = "erase"\n',
     "guardrail 'pii'"),
    ('[routes.a\n', "is not valid TOML"),
])  # fmt: skip
def test_serve_refuses_a_bad_gateway_file_at_startup_naming_the_file_table_and_problem(tmp_path: Path, toml: str, says: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    done = subprocess.run([TRACEJUDGE, "serve", "--db", str(tmp_path / "t.db"), "--port", "0", "--gateway-config", str(config)],
                          capture_output=True, text=True, timeout=60, env=_environment(None))  # fmt: skip
    assert done.returncode == 2 and str(config) in done.stderr and says in done.stderr, done.stderr


def test_the_readmes_gateway_files_load(tmp_path: Path) -> None:
    from mcp_server.gateway.routes import load_config

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("## The AI gateway", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(blocks) == 2  # the routes, then the guardrails
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme{index}.toml"
        path.write_text(block)
        config = load_config(path)
        assert "fast" in config.routes
    assert set(config.guardrails) == {"personal_data", "injection", "release_policy"}
