"""docker-compose.yaml, Dockerfile and .env.example hold together: the compose file is valid against the
Compose specification (check-jsonschema's vendored schema), everything it mounts, builds or reads exists,
every variable it requires is in .env.example, and no secret is committed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
EXAMPLE = ROOT / ".env.example"
SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "SMARKETING_ADMIN_PASSWORD")
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def example_values() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in EXAMPLE.read_text().splitlines() if re.match(r"^[A-Z_]+=", line)]
    return {key: value for key, value in pairs}


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    """The check above can fail: a service with an unknown key does not validate."""
    broken = tmp_path / "docker-compose.yaml"
    data = compose()
    data["services"]["redis"]["helthcheck"] = data["services"]["redis"].pop("healthcheck")
    broken.write_text(yaml.safe_dump(data))
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(broken)], capture_output=True, text=True
    )
    assert done.returncode != 0 and "helthcheck" in done.stdout + done.stderr


def test_every_mount_build_context_and_env_file_exists() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: mounted path {source} does not exist"
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile"
        for env_file in service.get("env_file", []):
            path = ROOT / (env_file["path"] if isinstance(env_file, dict) else env_file)
            # .env holds the secrets and is never committed: its template must be.
            assert path.exists() or path.with_name(path.name + ".example").exists(), f"{name}: {path}"


def test_the_airflow_components_share_secrets_and_wait_for_what_they_need() -> None:
    services = compose()["services"]
    assert set(AIRFLOW_SERVICES) | {"airflow-init", "postgres", "redis"} <= set(services)
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert {"path": ".env", "required": True} in service["env_file"], name
        assert "healthcheck" in service, name
        needs = service["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == needs["redis"]["condition"] == "service_healthy", name
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert all("profiles" not in services[name] for name in AIRFLOW_SERVICES)


def test_every_required_variable_is_in_the_template_and_no_secret_is_committed() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    values = example_values()
    missing = required - set(values)
    assert not missing, f".env.example lacks {sorted(missing)}"
    for key in (*SECRETS, "AIRFLOW_DB_PASSWORD", "WAREHOUSE_PASSWORD"):
        assert key in values and values[key] == "", f".env.example must leave {key} empty"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_image_is_the_official_airflow_of_the_pinned_version() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned
    assert re.search(rf"^FROM apache/airflow:{re.escape(pinned.group(1))}-python3\.11$", dockerfile, re.M)
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for part in source.split():
            assert (ROOT / part).exists(), f"Dockerfile copies {part}, which does not exist"
