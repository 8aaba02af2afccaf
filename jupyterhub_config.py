"""JupyterHub for the academy: users sign in through the portal (OAuth), servers run on one backend.

Every setting comes from the environment (prefix ACADEMY_); secrets are never written here.
The backend is chosen by ACADEMY_HUB_BACKEND:
  local       (default) one machine: a local process per user, homes under the data directory
  kubernetes  KubeSpawner with a CPU and a one-GPU profile (the z2jh values in deploy/ match)
  slurm       batchspawner's SlurmSpawner with a CPU and a GPU (--gres=gpu:1) option
Start it from the repository root: .venv/bin/jupyterhub -f jupyterhub_config.py
"""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the authenticator and the server sizes live in academy/integrations/
from academy.env import env  # noqa: E402 (ACADEMY_<key>, or any name with prefix="")
from academy.integrations.hub_profiles import SHM_MOUNT, SHM_VOLUME, kubespawner_profiles, slurm_options  # noqa: E402


def loopback_only(url):
    """Return whether a URL's host is this machine's loopback (127.0.0.0/8, ::1 or localhost)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required(name):
    value = env(name, prefix="")
    if not value:
        sys.exit(f"jupyterhub_config.py: set {name} (see README, Settings)")
    return value


BACKEND = env("HUB_BACKEND", "local")
if BACKEND not in {"local", "kubernetes", "slurm"}:
    sys.exit(f"jupyterhub_config.py: ACADEMY_HUB_BACKEND must be local, kubernetes or slurm, not {BACKEND!r}")
DATA_DIR = Path(env("DATA_DIR") or env("VAR_DIR") or ROOT / "var")
HUB_DIR = DATA_DIR / "hub"
HUB_DIR.mkdir(parents=True, exist_ok=True)
HUB_URL = env("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
# The browser is sent to PORTAL_URL to sign in; the hub itself calls PORTAL_INTERNAL_URL.
PORTAL_URL = env("PORTAL_URL", "http://127.0.0.1:5000").rstrip("/")
PORTAL_INTERNAL_URL = env("PORTAL_INTERNAL_URL", PORTAL_URL).rstrip("/")

# --- the hub and its proxy ------------------------------------------------------------------
# Where users reach the hub (the proxy listens here); loopback on one machine.
c.JupyterHub.bind_url = HUB_URL
# The hub's own API, which the proxy and the servers call (loopback on one machine).
c.JupyterHub.hub_bind_url = env("HUB_API_BIND_URL", "http://127.0.0.1:8081")
# The hub's records: SQLite beside the portal's data, PostgreSQL in production.
c.JupyterHub.db_url = env("HUB_DB_URL", f"sqlite:///{HUB_DIR / 'jupyterhub.sqlite'}")
c.JupyterHub.cookie_secret_file = str(HUB_DIR / "jupyterhub_cookie_secret")
# configurable-http-proxy comes from npm (package.json) into ./node_modules.
c.ConfigurableHTTPProxy.command = [str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = env("HUB_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.pid_file = str(HUB_DIR / "proxy.pid")
# A lab session of a whole cohort starts at once; the hub queues beyond this many spawns.
c.JupyterHub.concurrent_spawn_limit = int(env("HUB_CONCURRENT_SPAWNS", "100"))
# Portal and hub are different origins; no hub page may be framed by another site.
c.JupyterHub.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}

# --- sign-in through the portal ---------------------------------------------------------------
c.JupyterHub.authenticator_class = "academy.integrations.hub_auth.PortalAuthenticator"
c.PortalAuthenticator.client_id = env("HUB_CLIENT_ID", "jupyterhub")
c.PortalAuthenticator.client_secret = required("ACADEMY_HUB_CLIENT_SECRET")
c.PortalAuthenticator.oauth_callback_url = f"{HUB_URL}/hub/oauth_callback"
c.PortalAuthenticator.authorize_url = f"{PORTAL_URL}/oauth/authorize"
c.PortalAuthenticator.token_url = f"{PORTAL_INTERNAL_URL}/oauth/token"
c.PortalAuthenticator.userdata_url = f"{PORTAL_INTERNAL_URL}/oauth/userinfo"
c.PortalAuthenticator.scope = ["openid", "profile", "email", "groups"]
c.PortalAuthenticator.enable_pkce = True
# How long the hub waits for the portal (token, userinfo, and the re-check before every spawn). Tornado's default,
# 20 s, runs on while the hub's own event loop is stalled: at a class start on one machine (60 servers starting on
# 2 cores) the loop stalled up to 8 s at a time, a pre-spawn re-check ran past 20 s and that trainee's spawn was
# lost, though the portal had answered in 0.1 s (BENCHMARKS.md, "Class-start burst").
PORTAL_TIMEOUT = float(env("HUB_PORTAL_TIMEOUT", "60"))
c.PortalAuthenticator.http_request_kwargs = {"connect_timeout": PORTAL_TIMEOUT, "request_timeout": PORTAL_TIMEOUT}
c.PortalAuthenticator.basic_auth = True
c.PortalAuthenticator.login_service = "Gyeongnam AI Academy portal"
# The hub name is the portal's immutable "u<id>", never the e-mail (which a user can change).
c.PortalAuthenticator.username_claim = "preferred_username"
# Hub groups follow the portal at every login: cohort-<id>, nbgrader-<course>, formgrade-<course>.
c.PortalAuthenticator.manage_groups = True
c.PortalAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.PortalAuthenticator.admin_groups = {"academy-admins"}
# Who may enter is the portal's decision (the hub_access claim), re-checked at every login and refresh.
c.PortalAuthenticator.allow_all = False
c.PortalAuthenticator.refresh_pre_spawn = True
c.PortalAuthenticator.auth_refresh_age = int(env("HUB_AUTH_REFRESH_AGE", "300"))
# Straight to the portal: the hub shows no login page of its own.
c.Authenticator.auto_login = True
c.PortalAuthenticator.logout_redirect_url = f"{PORTAL_URL}/"
# Keep the user's portal token (encrypted with JUPYTERHUB_CRYPT_KEY) so their server can call the portal.
c.PortalAuthenticator.enable_auth_state = True
required("JUPYTERHUB_CRYPT_KEY")


# A trainee's server reads one more config layer first (deploy/singleuser/trainee): no "Create Assignment", course
# list or formgrader panels and no formgrader server extension (instructors keep them). The panels are only
# hidden: a trainee's own formgrader would grade only their own files; the courses' formgraders are hub
# services that only their instructors' groups may open.
TRAINEE_CONFIG = env("HUB_TRAINEE_CONFIG", str(ROOT / "deploy" / "singleuser" / "trainee") if BACKEND == "local"
                     else "/etc/jupyter/trainee")
SINGLEUSER_CONFIG = str(ROOT / "deploy" / "singleuser")


def pass_portal_token(spawner, auth_state):
    """Give the user's server the portal URL and the user's own portal token (never anyone else's), and a
    trainee's server the trainee config layer (the portal's `role` claim: "student" is a trainee)."""
    if not auth_state:
        return
    spawner.environment["ACADEMY_PORTAL_URL"] = PORTAL_INTERNAL_URL
    # The address the trainee's browser reaches the portal at (the notebook's feedback link), not the cluster's.
    spawner.environment["ACADEMY_PORTAL_PUBLIC_URL"] = PORTAL_URL
    spawner.environment["ACADEMY_PORTAL_TOKEN"] = auth_state.get("access_token", "")
    layers = [TRAINEE_CONFIG] if (auth_state.get("oauth_user") or {}).get("role") == "student" else []
    layers += [SINGLEUSER_CONFIG] if BACKEND == "local" else []  # cluster images: /etc/jupyter, always read
    if layers:  # set for every spawn, so that no server keeps another role's layers
        spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(layers)
    else:
        spawner.environment.pop("JUPYTER_CONFIG_PATH", None)


c.Spawner.auth_state_hook = pass_portal_token

# --- services: the portal reads server states; the culler stops idle servers -----------------
services, roles = [], []
if env("HUB_API_TOKEN"):
    services.append({"name": "academy-portal", "api_token": env("HUB_API_TOKEN")})
    # Read-only: the portal shows server states, it never starts or stops servers itself.
    roles.append({"name": "academy-portal", "scopes": ["list:users", "read:users", "read:servers"],
                  "services": ["academy-portal"]})
services.append({
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={env('HUB_CULL_TIMEOUT', '3600')}", f"--cull-every={env('HUB_CULL_EVERY', '600')}"],
})
roles.append({"name": "idle-culler", "services": ["idle-culler"],
              "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})
# Each course's formgrader (only its instructors' group may open it) and the sync of hand-entered grades,
# named by the portal's course id: the hub asks the portal which courses there are, with its OAuth client
# credentials (so hub and portal may be on different machines). A portal that does not answer within
# FORMGRADER_PORTAL_WAIT seconds leaves the hub without formgraders (logged); only the hub itself asks,
# not a tool or test that merely reads this file.
from jupyterhub.app import JupyterHub  # noqa: E402

from academy.integrations.formgrader import DEFAULT_PORTAL_WAIT, fetch_course_links, formgrader_services  # noqa: E402

course_links = []
if JupyterHub.initialized() and env("FORMGRADERS", "on").lower() not in {"off", "0", "false", "no"}:
    course_links = fetch_course_links(PORTAL_INTERNAL_URL, c.PortalAuthenticator.client_id,
                                      c.PortalAuthenticator.client_secret,
                                      float(env("FORMGRADER_PORTAL_WAIT", DEFAULT_PORTAL_WAIT))) or []
fg_services, fg_roles = formgrader_services(course_links, Path(env("COURSES_DIR") or ROOT / "courses"), os.environ,
                                            state_dir=HUB_DIR / "formgrader", portal_url=PORTAL_INTERNAL_URL)
services += fg_services
roles += fg_roles
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles

# --- notebook servers ---------------------------------------------------------------------------
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = int(env("HUB_START_TIMEOUT", "120"))
# How long a started server may take to answer. On one small machine a whole class starting at once
# shares its cores: with 20 servers starting together on 2 busy cores some needed more than 60 s
# (JupyterHub's default) and failed, so the default here is 300 s.
c.Spawner.http_timeout = int(env("HUB_HTTP_TIMEOUT", "300"))
IMAGE = env("HUB_IMAGE", "ghcr.io/gyeongnam-ai-academy/course-notebook:2027.1")
GPU_NODE_SELECTOR = dict(
    [env("HUB_GPU_NODE_SELECTOR", "nvidia.com/gpu.present=true").split("=", 1)]
)

if BACKEND == "local":
    # One machine: every server is a process of the hub's own OS user, home under the data directory.
    # This mode does NOT isolate users from each other (see deploy/README.md), so it serves loopback only
    # unless the operator says, in LOCAL_BACKEND_ACCEPT_SHARED, that trainees sharing the hub's user is accepted.
    if not loopback_only(HUB_URL) and env("LOCAL_BACKEND_ACCEPT_SHARED", "") != "1":
        sys.exit(f"jupyterhub_config.py: the local backend runs every trainee's notebook as the hub's own OS user, "
                 f"so it listens on 127.0.0.1 only, not {HUB_URL}. Use kubernetes or slurm for a class, or set "
                 f"ACADEMY_LOCAL_BACKEND_ACCEPT_SHARED=1 to accept that (README, Security).")
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(DATA_DIR / "hub" / "homes" / "{username}")
    c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]  # containers and CI run as root; a real install should not
    # Keep kernels' and Jupyter's state in the user's home, not the hub user's $HOME.
    c.Spawner.environment = {
        "IPYTHONDIR": lambda spawner: f"{spawner.home_dir}/.ipython",
        "JUPYTER_CONFIG_DIR": lambda spawner: f"{spawner.home_dir}/.jupyter",
        "JUPYTER_DATA_DIR": lambda spawner: f"{spawner.home_dir}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": lambda spawner: f"{spawner.home_dir}/.local/share/jupyter/runtime",
    }
    c.Spawner.mem_limit = env("HUB_MEM_LIMIT", "4G")  # advisory on this backend (reported to the server)

elif BACKEND == "kubernetes":
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.image = IMAGE
    c.KubeSpawner.namespace = env("HUB_NAMESPACE", "academy")
    c.KubeSpawner.profile_list = kubespawner_profiles(GPU_NODE_SELECTOR)
    # Defaults when a profile does not say otherwise (the CPU profile's sizes).
    c.KubeSpawner.cpu_guarantee, c.KubeSpawner.cpu_limit = 0.5, 2
    c.KubeSpawner.mem_guarantee, c.KubeSpawner.mem_limit = "2G", "4G"
    c.KubeSpawner.storage_pvc_ensure = True
    c.KubeSpawner.storage_capacity = env("HUB_STORAGE", "10Gi")
    c.KubeSpawner.pvc_name_template = "claim-{user_server}"
    c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-{user_server}"}},
                             SHM_VOLUME]
    c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}, SHM_MOUNT]
    # Pods reach the hub by its service name; the portal by its in-cluster URL.
    c.JupyterHub.hub_connect_url = env("HUB_CONNECT_URL", "http://hub:8081")
    c.KubeSpawner.start_timeout = int(env("HUB_START_TIMEOUT", "300"))  # image pulls are slow

elif BACKEND == "slurm":
    c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
    CPU_PARTITION, GPU_PARTITION = env("SLURM_CPU_PARTITION", "cpu"), env("SLURM_GPU_PARTITION", "gpu")
    c.SlurmSpawner.req_partition = CPU_PARTITION
    c.SlurmSpawner.req_options = ""
    c.SlurmSpawner.batch_script = """#!/bin/bash
#SBATCH --output={{homedir}}/.academy-hub-%j.log
#SBATCH --job-name=academy-notebook
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
#SBATCH --get-user-env=L
#SBATCH --partition={{partition}}
#SBATCH --time={{runtime}}
#SBATCH --cpus-per-task={{nprocs}}
#SBATCH --mem={{memory}}
{% if gres %}#SBATCH --gres={{gres}}
{% endif %}
set -euo pipefail
trap 'echo SIGTERM received' TERM
{{prologue}}
{% if srun %}{{srun}} {% endif %}{{cmd}}
echo "notebook server ended gracefully"
{{epilogue}}
"""
    c.SlurmSpawner.options_form = """
<label for="profile">서버 종류 / Server</label>
<select name="profile" id="profile" class="form-control">
  <option value="cpu" selected>CPU · 일반 실습 (2 CPU, 4 GB)</option>
  <option value="gpu">GPU 1 · 딥러닝 실습 (--gres=gpu:1)</option>
</select>"""

    def slurm_profile(formdata):
        """Map the chosen profile to fixed job values; anything else falls back to CPU."""
        slug = (formdata.get("profile") or ["cpu"])[0]
        return slurm_options(slug if slug in {"cpu", "gpu"} else "cpu", CPU_PARTITION, GPU_PARTITION)

    c.SlurmSpawner.options_from_form = slurm_profile
    c.SlurmSpawner.start_timeout = int(env("HUB_START_TIMEOUT", "300"))  # queue waits

# --- nbgrader's exchange in each server: the portal, with the trainee's own token --------------
# The exchange (academy/exchange) asks the hub for the user's current portal token before each action:
# the hub refreshes it with the sign-in, while ACADEMY_PORTAL_TOKEN keeps the one from spawn time. The
# `server` role (the server's own hub token) may read its own user's auth_state, nobody else's; a server
# token only gets scopes its user holds, so users get it too (it is their own portal sign-in).
c.JupyterHub.extra_user_scopes = {"admin:auth_state!user"}
c.JupyterHub.load_roles = [*roles, {
    "name": "server",
    "description": "Post activity, be reached, and read its own user's portal token (auth_state)",
    "scopes": ["users:activity!user", "access:servers!server", "admin:auth_state!user"],
}]
if BACKEND == "local":
    # Same venv as the hub: nbgrader finds deploy/singleuser/nbgrader_config.py (which selects the portal
    # exchange) on JUPYTER_CONFIG_PATH from any working folder, and imports academy.exchange from here.
    c.Spawner.environment.update({
        "JUPYTER_CONFIG_PATH": lambda spawner: str(ROOT / "deploy" / "singleuser"),
        # Kernels see the repository on their path too; this backend does not isolate users anyway.
        "PYTHONPATH": lambda spawner: os.pathsep.join(filter(None, [str(ROOT), env("PYTHONPATH", prefix="")])),
    })
# kubernetes and slurm: the course image (or the cluster's notebook environment) carries the exchange
# itself, as deploy/singleuser/README.md shows: requests and nbgrader installed, academy/exchange/ copied
# to site-packages/academy/exchange/ (no academy/__init__.py, so the portal's Flask stack is not needed)
# and deploy/singleuser/nbgrader_config.py copied to /etc/jupyter/. ACADEMY_PORTAL_URL and
# ACADEMY_PORTAL_TOKEN come from pass_portal_token on every backend.
