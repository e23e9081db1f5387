"""The deployment files (Dockerfile, docker-compose.yml, .env.example) say what the app needs.

Docker is not available where the suite runs, so these read the files instead of running them.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from webapp.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
CONFIG_PY = ROOT / "webapp" / "config.py"

REQUIRED_SERVICES = {"web", "worker", "scheduler", "postgres", "redis"}
OPTIONAL_SERVICES = {"migrate"}  # a one-shot `flask db upgrade`, if the compose file uses one
APP_SERVICES = ("web", "worker", "scheduler")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|API_KEY|TOKEN|PRIVATE_KEY")
REFERENCE = re.compile(r"\$\{[^}]*\}")  # compose interpolation: ${NAME}, ${NAME:-x}, ${NAME:?msg}
WEASYPRINT_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0")


# --- readers --------------------------------------------------------------------------------------

def compose() -> dict:
    """docker-compose.yml, parsed (YAML anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict:
    """The compose services by name."""
    return compose()["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued instruction"
    return instructions


def dockerfile_args(keyword: str) -> list[str]:
    """Arguments of every `keyword` instruction, in order."""
    return [args for kw, args in dockerfile_instructions() if kw == keyword]


def argv(command) -> list[str]:
    """A command (exec-form list or shell string) as argv; `sh -c "exec ..."` is unwrapped."""
    if isinstance(command, str):
        command = command.strip()
        words = ast.literal_eval(command) if command.startswith("[") else shlex.split(command)
    else:
        words = list(command)
    if len(words) == 3 and words[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and words[1] == "-c":
        words = shlex.split(words[2])
    if words and words[0] == "exec":
        words = words[1:]
    return words


def image_command() -> list[str]:
    """The Dockerfile's default command (the last CMD)."""
    commands = dockerfile_args("CMD")
    assert commands, "the Dockerfile has no CMD"
    return argv(commands[-1])


def builds_this_dockerfile(service: dict) -> bool:
    """True when the service's image is built from this repository's Dockerfile."""
    build = service.get("build")
    if isinstance(build, str):
        return build in (".", "./")
    if isinstance(build, dict):
        context_ok = build.get("context", ".") in (".", "./")
        return context_ok and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    return False


def effective_command(name: str) -> list[str]:
    """What the service runs: its compose `command`, else the image's CMD."""
    service = services()[name]
    if "command" in service:
        return argv(service["command"])
    assert builds_this_dockerfile(service), f"{name} has no command and does not build this Dockerfile"
    return image_command()


def environment(service: dict) -> dict[str, str | None]:
    """A service's `environment`, in either mapping or list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def env_files(service: dict) -> list[str]:
    """The service's env_file paths."""
    entries = service.get("env_file") or []
    if isinstance(entries, (str, dict)):
        entries = [entries]
    return [entry if isinstance(entry, str) else entry["path"] for entry in entries]


def mounts(service: dict) -> dict[str, str]:
    """Container path -> source (volume name or host path) for each of the service's volumes."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result[volume["target"]] = volume.get("source", "")
        else:
            parts = volume.split(":")
            if len(parts) == 1:
                result[parts[0]] = ""  # an anonymous volume: lost with the container
            else:
                result[parts[1]] = parts[0]
    return result


def depends_on(service: dict) -> dict[str, str]:
    """Dependency -> condition (the short list form means only `service_started`)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_command(service: dict) -> list[str]:
    """The healthcheck test without its CMD / CMD-SHELL marker; fails when there is none."""
    check = service.get("healthcheck")
    assert check and not check.get("disable"), "no healthcheck"
    test = check["test"]
    if isinstance(test, str):
        return shlex.split(test)
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test must start with CMD or CMD-SHELL: {test}"
    return test[1:] if test[0] == "CMD" else shlex.split(" ".join(test[1:]))


def env_example() -> tuple[dict[str, str], set[str]]:
    """.env.example as (active NAME=value pairs, names listed commented-out as `# NAME=...`)."""
    active, commented = {}, set()
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        match = re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line)
        if match:
            commented.add(match.group(1))
            continue
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f".env.example: not NAME=value: {raw!r}"
        assert name not in active, f".env.example sets {name} twice"
        active[name] = value
    return active, commented


def variables_read_by_config() -> set[str]:
    """Every environment variable webapp/config.py reads."""
    source = CONFIG_PY.read_text()
    patterns = (
        r"""environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""",
        r"""environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""",
        r"""getenv\(\s*["']([A-Z][A-Z0-9_]*)["']""",
        r"""_int\(\s*environ,\s*["']([A-Z][A-Z0-9_]*)["']""",
    )
    return {name for pattern in patterns for name in re.findall(pattern, source)}


# --- docker-compose.yml ---------------------------------------------------------------------------

def test_compose_parses_and_names_exactly_the_deployment_services():
    names = set(services())
    assert REQUIRED_SERVICES <= names, f"missing services: {REQUIRED_SERVICES - names}"
    assert names - REQUIRED_SERVICES <= OPTIONAL_SERVICES, f"unexpected services: {names - REQUIRED_SERVICES}"


def test_web_runs_gunicorn_on_the_wsgi_app():
    command = effective_command("web")
    assert command[0] == "gunicorn"
    assert command[-1] == "wsgi:app"
    bind = command[command.index("--bind") + 1]
    assert bind == "0.0.0.0:8000", "gunicorn must listen on all interfaces inside the container"


def test_worker_runs_the_rq_worker_with_its_scheduler():
    assert effective_command("worker") == ["python", "-m", "jobs", "worker", "--with-scheduler"]


def test_scheduler_runs_the_rq_scheduler():
    assert effective_command("scheduler") == ["python", "-m", "jobs", "scheduler"]


def test_app_services_run_this_image():
    for name in APP_SERVICES + tuple(OPTIONAL_SERVICES & set(services())):
        assert builds_this_dockerfile(services()[name]), f"{name} must be built from ./Dockerfile"


def test_migrations_run_once_before_the_app_starts():
    """Either a one-shot migrate service the app waits for, or web running the upgrade first."""
    svc = services()
    if "migrate" in svc:
        assert effective_command("migrate") == ["flask", "db", "upgrade"]
        # Any restart policy but "no" would rerun the finished upgrade in a loop.
        assert str(svc["migrate"].get("restart", "no")) == "no"
        for name in APP_SERVICES:
            assert depends_on(svc[name]).get("migrate") == "service_completed_successfully", name
    else:
        command = " ".join(effective_command("web"))
        assert "flask db upgrade" in command and command.index("flask db upgrade") < command.index("gunicorn")


def test_postgres_redis_and_web_have_healthchecks():
    svc = services()
    assert healthcheck_command(svc["postgres"])[0] == "pg_isready"
    assert healthcheck_command(svc["redis"])[:2] == ["redis-cli", "ping"]

    web_check = healthcheck_command(svc["web"])
    # python:*-slim ships neither curl nor wget, so the check must use the image's Python.
    assert web_check[:2] == ["python", "-c"], web_check
    code = web_check[2]
    compile(code, "<web healthcheck>", "exec")  # a typo here would leave web forever unhealthy
    assert "http://127.0.0.1:8000/healthz" in code or "http://localhost:8000/healthz" in code


def test_app_services_wait_for_healthy_postgres_and_redis():
    svc = services()
    for name in APP_SERVICES + tuple(OPTIONAL_SERVICES & set(svc)):
        deps = depends_on(svc[name])
        assert deps.get("postgres") == "service_healthy", f"{name} must wait for a healthy postgres"
        assert deps.get("redis") == "service_healthy", f"{name} must wait for a healthy redis"


def test_long_running_services_restart_unless_stopped():
    for name in REQUIRED_SERVICES:
        assert services()[name].get("restart") == "unless-stopped", name


def test_images_are_the_requested_majors():
    svc = services()
    assert svc["postgres"]["image"].split(":")[1].split("-")[0].split(".")[0] == "16"
    assert svc["redis"]["image"].split(":")[1].split("-")[0].split(".")[0] == "7"


def test_postgres_and_redis_data_live_in_named_volumes():
    spec = compose()
    declared = set(spec.get("volumes") or {})
    svc = spec["services"]

    postgres_volume = mounts(svc["postgres"]).get("/var/lib/postgresql/data")
    assert postgres_volume in declared, "postgres data must be a declared named volume"

    redis_volume = mounts(svc["redis"]).get("/data")
    assert redis_volume in declared, "redis data must be a declared named volume"
    redis_command = argv(svc["redis"]["command"])
    flag = redis_command.index("--appendonly")
    assert redis_command[flag + 1] == "yes", "without AOF, queued jobs vanish with the container"
    assert postgres_volume != redis_volume


def test_instance_data_is_a_volume_shared_by_web_and_worker():
    """Statement PDFs and the outbox are written by the worker and served by web."""
    workdir = dockerfile_args("WORKDIR")[-1].rstrip("/")
    declared = set(compose().get("volumes") or {})
    sources = {}
    for name in APP_SERVICES:
        source = mounts(services()[name]).get(f"{workdir}/instance")
        assert source, f"{name} does not mount {workdir}/instance (create_app's instance_path)"
        sources[name] = source
    assert sources["web"] == sources["worker"] == sources["scheduler"]
    assert sources["web"] in declared or sources["web"].startswith(("/", "./")), sources


def test_web_publishes_the_port_gunicorn_listens_on():
    ports = [str(port) for port in services()["web"].get("ports") or []]
    assert ports, "web publishes no port"
    assert all(port.rsplit(":", 1)[-1] == "8000" for port in ports), ports
    assert "8000" in dockerfile_args("EXPOSE")[-1].split()


def test_no_secret_is_written_inline():
    for name, service in services().items():
        for key, value in environment(service).items():
            if value is None:
                continue
            if SECRET_NAME.search(key):
                assert REFERENCE.sub("", value) == "", f"{name}: {key} must come from .env, not {value!r}"
            if "://" in value:
                password = urlsplit(REFERENCE.sub("REF", value)).password
                assert password in (None, "REF"), f"{name}: {key} embeds a literal password"


def test_app_services_take_their_settings_from_dot_env():
    for name in APP_SERVICES:
        service = services()[name]
        assert ".env" in [Path(path).name for path in env_files(service)], f"{name} must read .env"
        secret = environment(service).get("SECRET_KEY")
        assert secret is None or secret.startswith("${SECRET_KEY"), name


def test_compose_variables_are_documented_in_env_example():
    active, commented = env_example()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    missing = used - set(active) - commented
    assert not missing, f"docker-compose.yml uses variables .env.example does not list: {missing}"


# --- .env.example ---------------------------------------------------------------------------------

def test_env_example_lists_every_variable_the_app_reads():
    read = variables_read_by_config()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= read, "the config.py scan found too little"
    active, commented = env_example()
    missing = read - set(active) - commented
    assert not missing, f".env.example does not list: {sorted(missing)}"


def test_env_example_marks_secret_key_required_and_ships_no_secret():
    active, _ = env_example()
    assert active.get("SECRET_KEY") == "", "SECRET_KEY must be listed, with no value"
    lines = ENV_EXAMPLE.read_text().splitlines()
    index = lines.index("SECRET_KEY=")
    comment_above = []
    for line in reversed(lines[:index]):
        if not line.startswith("#"):
            break
        comment_above.append(line)
    assert any("REQUIRED" in line for line in comment_above), "SECRET_KEY's comment must say REQUIRED"
    for key, value in active.items():
        if SECRET_NAME.search(key):
            assert value == "", f".env.example must not carry a value for {key}"


def test_env_example_is_a_working_production_configuration(tmp_path):
    active, _ = env_example()
    env = dict(active, SECRET_KEY="x" * 64)
    config = load_config(env, tmp_path)
    assert config["PRODUCTION"]
    assert config["SECRET_KEY"] == "x" * 64


def test_env_example_without_secret_key_is_refused(tmp_path):
    active, _ = env_example()
    with pytest.raises(ConfigError):
        load_config(dict(active, APP_ENV="production"), tmp_path)


# --- Dockerfile -----------------------------------------------------------------------------------

def test_dockerfile_builds_on_python_311_slim():
    base = dockerfile_args("FROM")[0].split()[0]
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", base), base


def test_dockerfile_installs_weasyprint_system_libraries():
    installs = " ".join(args for args in dockerfile_args("RUN") if "apt-get install" in args).split()
    for package in WEASYPRINT_PACKAGES:
        assert package in installs, f"{package} is not installed"
    assert any(word.startswith("fonts-") for word in installs), "no font package installed"


def test_dockerfile_installs_requirements_txt_before_copying_the_app():
    instructions = dockerfile_instructions()
    pip_steps = [
        index for index, (kw, args) in enumerate(instructions)
        if kw == "RUN" and re.search(r"pip install\b.*--no-cache-dir.*-r requirements\.txt", args)
    ]
    assert pip_steps, "no `pip install --no-cache-dir -r requirements.txt`"
    copies = [(index, args.split()) for index, (kw, args) in enumerate(instructions) if kw == "COPY"]
    requirement_copies = [index for index, words in copies if "requirements.txt" in words]
    assert requirement_copies and requirement_copies[0] < pip_steps[0]
    assert any(index > pip_steps[0] and words[-2:] == [".", "."] for index, words in copies), \
        "the app is not copied after the dependencies are installed"


def test_dockerfile_runs_as_a_non_root_user():
    users = dockerfile_args("USER")
    assert users, "the Dockerfile has no USER: the app would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    cmd_index = max(i for i, (kw, _) in enumerate(dockerfile_instructions()) if kw == "CMD")
    user_index = max(i for i, (kw, _) in enumerate(dockerfile_instructions()) if kw == "USER")
    assert user_index < cmd_index


def test_dockerfile_sets_flask_app_and_production():
    env = {}
    for args in dockerfile_args("ENV"):
        for word in shlex.split(args):
            name, sep, value = word.partition("=")
            if sep:
                env[name] = value
    assert env.get("FLASK_APP") == "wsgi"
    assert env.get("APP_ENV") == "production"
    assert not any(SECRET_NAME.search(name) for name in env), "no secret may be baked into the image"


def test_dockerfile_gunicorn_target_exists():
    command = image_command()
    assert command[0] == "gunicorn"
    module, _, attribute = command[-1].partition(":")
    source = ROOT / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{source} does not exist"
    tree = ast.parse(source.read_text())
    assigned = {
        target.id for node in tree.body if isinstance(node, ast.Assign)
        for target in node.targets if isinstance(target, ast.Name)
    }
    assert attribute in assigned, f"{source.name} defines no module-level {attribute!r}"
    pins = re.findall(r"^gunicorn==\S+", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pins, "gunicorn is not pinned in requirements.txt"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    patterns = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (".env", "instance", ".venv", ".git"):
        assert required in patterns, f".dockerignore does not exclude {required}"
