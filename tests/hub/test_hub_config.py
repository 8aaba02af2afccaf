"""jupyterhub_config.py under each backend: the spawner settings it produces, without any cluster."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from batchspawner import SlurmSpawner
from jupyterhub.spawner import SimpleLocalProcessSpawner
from kubespawner import KubeSpawner
from traitlets.config import PyFileConfigLoader

from academy.integrations.hub_profiles import SHM_VOLUME, kubespawner_profiles

REPO = Path(__file__).resolve().parents[2]


def load(monkeypatch, tmp_path, backend: str | None, **env):
    base = {"ACADEMY_HUB_CLIENT_SECRET": "c" * 40, "JUPYTERHUB_CRYPT_KEY": "ab" * 32,
            "ACADEMY_DATA_DIR": str(tmp_path), "ACADEMY_HUB_API_TOKEN": "t" * 40}
    if backend:
        base["ACADEMY_HUB_BACKEND"] = backend
    for key, value in {**base, **env}.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()


def test_local_backend_signs_in_through_the_portal(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, None, ACADEMY_PORTAL_URL="http://127.0.0.1:5000",
             ACADEMY_PORTAL_INTERNAL_URL="http://10.0.0.2:5000")
    assert c.JupyterHub.spawner_class == "simple"
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(tmp_path / "hub" / "homes" / "{username}")
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}"
    assert c.ConfigurableHTTPProxy.command == [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
    auth = c.PortalAuthenticator
    assert c.JupyterHub.authenticator_class == "academy.integrations.hub_auth.PortalAuthenticator"
    assert auth.authorize_url == "http://127.0.0.1:5000/oauth/authorize"  # the browser goes here
    assert auth.token_url == "http://10.0.0.2:5000/oauth/token"  # the hub calls these directly
    assert auth.userdata_url == "http://10.0.0.2:5000/oauth/userinfo"
    assert auth.username_claim == "preferred_username" and auth.enable_pkce is True
    assert auth.allow_all is False and auth.manage_groups is True and auth.admin_groups == {"academy-admins"}
    assert auth.enable_auth_state is True and auth.refresh_pre_spawn is True
    # A class start stalls the hub for seconds: its wait for the portal must outlast that (BENCHMARKS.md).
    assert auth.http_request_kwargs == {"connect_timeout": 60.0, "request_timeout": 60.0}
    assert auth.client_secret == "c" * 40
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert "jupyterhub_idle_culler" in services["idle-culler"]["command"]
    assert services["academy-portal"]["api_token"] == "t" * 40
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert set(roles["academy-portal"]["scopes"]) == {"list:users", "read:users", "read:servers"}
    assert "delete:servers" in roles["idle-culler"]["scopes"]


def test_local_spawner_keeps_jupyter_state_in_the_users_home(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, "local")
    user = mock.Mock()
    user.name = "u42"
    spawner = SimpleLocalProcessSpawner(config=c, user=user)
    assert spawner.home_dir == str(tmp_path / "hub" / "homes" / "u42")
    env = {k: v(spawner) for k, v in c.Spawner.environment.items()}
    assert env["IPYTHONDIR"] == f"{spawner.home_dir}/.ipython"
    assert env["JUPYTER_RUNTIME_DIR"].startswith(spawner.home_dir)
    spawner.environment = {}
    c.Spawner.auth_state_hook(spawner, {"access_token": "portal-token"})
    assert spawner.environment["ACADEMY_PORTAL_TOKEN"] == "portal-token"


def test_a_trainees_server_gets_the_trainee_layer_and_no_one_else_does(monkeypatch, tmp_path):
    """The portal's role claim picks the config layers: a trainee's server reads deploy/singleuser/trainee first;
    an instructor's, spawned after it on the same spawner, does not keep it."""
    c = load(monkeypatch, tmp_path, "local")
    user = mock.Mock()
    user.name = "u7"
    spawner = SimpleLocalProcessSpawner(config=c, user=user)
    singleuser = str(REPO / "deploy" / "singleuser")
    c.Spawner.auth_state_hook(spawner, {"access_token": "t", "oauth_user": {"role": "student"}})
    assert spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [f"{singleuser}/trainee", singleuser]
    c.Spawner.auth_state_hook(spawner, {"access_token": "t", "oauth_user": {"role": "instructor"}})
    assert spawner.environment["JUPYTER_CONFIG_PATH"] == singleuser
    page_config = json.loads((REPO / "deploy" / "singleuser" / "trainee" / "labconfig" / "page_config.json").read_text())
    assert {f"@jupyter/nbgrader:{p}" for p in ("create-assignment", "course-list", "formgrader")} <= set(
        page_config["disabledExtensions"])


def kube_spawner(config, profile: str):
    with mock.patch("kubespawner.spawner.load_config"), mock.patch("kubespawner.spawner.shared_client"):
        spawner = KubeSpawner(config=config, _mock=True)
    spawner.user_options = {"profile": profile}

    async def manifest():
        await spawner.load_user_options()
        return await spawner.get_pod_manifest()

    return asyncio.run(manifest())


def test_kubernetes_backend_has_cpu_and_gpu_profiles(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, "kubernetes", ACADEMY_HUB_IMAGE="registry.test/course:1")
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert [p["slug"] for p in c.KubeSpawner.profile_list] == ["cpu", "gpu"]

    gpu = kube_spawner(c, "gpu")
    container = gpu.spec.containers[0]
    assert container.image == "registry.test/course:1"
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert container.resources.limits["cpu"] == 8 and container.resources.requests["cpu"] == 2
    assert gpu.spec.node_selector == {"nvidia.com/gpu.present": "true"}
    assert gpu.spec.tolerations[0].key == "nvidia.com/gpu"
    volumes = {v.name: v for v in gpu.spec.volumes}
    assert volumes["shm"].empty_dir["medium"] == "Memory" and "home" in volumes
    assert {m.mount_path for m in container.volume_mounts} == {"/dev/shm", "/home/jovyan"}

    cpu = kube_spawner(c, "cpu")
    assert "nvidia.com/gpu" not in cpu.spec.containers[0].resources.limits
    assert cpu.spec.containers[0].resources.limits["memory"] == 4 * 1024**3
    assert not cpu.spec.tolerations or all(t.key != "nvidia.com/gpu" for t in cpu.spec.tolerations)


def test_z2jh_values_use_the_same_settings(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, "kubernetes")
    values = yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())
    assert values["singleuser"]["profileList"] == kubespawner_profiles({"nvidia.com/gpu.present": "true"})
    assert values["singleuser"]["profileList"] == c.KubeSpawner.profile_list
    assert values["singleuser"]["storage"]["extraVolumes"] == [SHM_VOLUME]
    hub = values["hub"]["config"]
    assert hub["JupyterHub"]["authenticator_class"] == c.JupyterHub.authenticator_class
    for key in ("username_claim", "manage_groups", "auth_state_groups_key", "enable_pkce", "scope",
                "allow_all", "refresh_pre_spawn", "basic_auth", "http_request_kwargs"):
        assert hub["PortalAuthenticator"][key] == c.PortalAuthenticator[key], key
    assert set(hub["PortalAuthenticator"]["admin_groups"]) == c.PortalAuthenticator.admin_groups
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600


@pytest.mark.parametrize("profile, gres, partition", [("gpu", "gpu:1", "gpu"), ("cpu", None, "cpu"),
                                                      ("gpu --wrap=evil", None, "cpu")])
def test_slurm_backend_job_script(monkeypatch, tmp_path, profile, gres, partition):
    c = load(monkeypatch, tmp_path, "slurm")
    assert c.JupyterHub.spawner_class == "batchspawner.SlurmSpawner"
    user = mock.Mock(url="/user/u42/", escaped_name="u42")
    user.name = "u42"
    # On a cluster u42 is an account (from the directory); here only its home is needed.
    spawner = SlurmSpawner(config=c, user=user, hub=mock.Mock(public_host="hub.test", api_url="http://hub.test:8081/hub/api/", base_url="/hub/", url="http://hub.test:8081/hub/"), req_homedir="/home/u42",
                           req_username="u42", req_keepvars="PATH")
    spawner.user_options = spawner.options_from_form({"profile": [profile]})
    subvars = {**spawner.get_req_subvars(), **spawner.user_options, "cmd": "jupyterhub-singleuser"}
    script = asyncio.run(spawner._get_batch_script(**subvars))
    assert f"#SBATCH --partition={partition}\n" in script
    if gres:
        assert f"#SBATCH --gres={gres}\n" in script
    else:
        assert "--gres" not in script
    assert "evil" not in script


def test_unknown_backend_or_missing_secret_stops_the_hub(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="local, kubernetes or slurm"):
        load(monkeypatch, tmp_path, "docker")
    with pytest.raises(SystemExit, match="ACADEMY_HUB_CLIENT_SECRET"):
        load(monkeypatch, tmp_path, "local", ACADEMY_HUB_CLIENT_SECRET=None)
    with pytest.raises(SystemExit, match="JUPYTERHUB_CRYPT_KEY"):
        load(monkeypatch, tmp_path, "local", JUPYTERHUB_CRYPT_KEY=None)


@pytest.mark.parametrize("url", ["http://0.0.0.0:8000", "http://10.0.0.5:8000", "https://hub.academy.test",
                                 "http://[::]:8000", "http://127.0.0.1.nip.io:8000"])
def test_the_local_backend_refuses_to_serve_beyond_loopback(monkeypatch, tmp_path, url):
    """Every trainee's server runs as the hub's own OS user on this backend, so it stays on this machine.

    Checked: fails when jupyterhub_config.py drops the loopback_only check of the local backend.
    """
    with pytest.raises(SystemExit, match="ACADEMY_LOCAL_BACKEND_ACCEPT_SHARED=1"):
        load(monkeypatch, tmp_path, "local", ACADEMY_HUB_URL=url, ACADEMY_LOCAL_BACKEND_ACCEPT_SHARED=None)
    # The operator who accepts it says so, in one setting.
    c = load(monkeypatch, tmp_path, "local", ACADEMY_HUB_URL=url, ACADEMY_LOCAL_BACKEND_ACCEPT_SHARED="1")
    assert c.JupyterHub.bind_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000",
                                 "http://127.0.0.2:9000"])
def test_the_local_backend_serves_loopback(monkeypatch, tmp_path, url):
    assert load(monkeypatch, tmp_path, "local", ACADEMY_HUB_URL=url).JupyterHub.bind_url == url


def test_cluster_backends_may_listen_anywhere(monkeypatch, tmp_path):
    for backend in ("kubernetes", "slurm"):
        c = load(monkeypatch, tmp_path, backend, ACADEMY_HUB_URL="http://0.0.0.0:8000")
        assert c.JupyterHub.bind_url == "http://0.0.0.0:8000"


def test_a_trainees_pod_reaches_no_private_address_but_the_portals_exchange(monkeypatch, tmp_path):
    """z2jh's network policy for user pods: no private address (database, broker, workers, other pods), the
    portal's API port only."""
    policy = yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    assert policy["egressAllowRules"] == {"privateIPs": False, "cloudMetadataServer": False}
    [rule] = policy["egress"]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]
    assert rule["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "academy-portal"}}}]
