"""Notebook server sizes, one table for every backend (Kubernetes profiles, Slurm options, the z2jh values)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    slug: str
    display_name: str
    description: str
    cpu_guarantee: float
    cpu_limit: float
    mem_guarantee: str  # Kubernetes quantities ("2G"); Slurm gets the limit in megabytes
    mem_limit: str
    gpus: int
    hours: int  # Slurm wall time
    default: bool = False


PROFILES = (
    Profile(
        slug="cpu",
        display_name="CPU · 일반 실습 (standard labs)",
        description="2 CPU, 4 GB",
        cpu_guarantee=0.5,
        cpu_limit=2,
        mem_guarantee="2G",
        mem_limit="4G",
        gpus=0,
        hours=8,
        default=True,
    ),
    Profile(
        slug="gpu",
        display_name="GPU 1 · 딥러닝 실습 (deep-learning labs)",
        description="1 NVIDIA GPU, 8 CPU, 32 GB",
        cpu_guarantee=2,
        cpu_limit=8,
        mem_guarantee="16G",
        mem_limit="32G",
        gpus=1,
        hours=4,
    ),
)


# A larger /dev/shm for every server: PyTorch DataLoader workers fail with the container default of
# 64 MB. Memory-backed, so it counts toward (and is bounded by) each profile's memory limit; it is
# set once, outside the profiles, because a profile's list of volumes would replace the home volume.
SHM_VOLUME = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}
SHM_MOUNT = {"name": "shm", "mountPath": "/dev/shm"}


def _megabytes(quantity: str) -> int:
    units = {"K": 1e-3, "M": 1, "G": 1000, "T": 1_000_000}
    return int(float(quantity[:-1]) * units[quantity[-1]])


def kubespawner_profiles(gpu_node_selector: dict[str, str], gpu_taint_key: str = "nvidia.com/gpu") -> list[dict]:
    """Return KubeSpawner's profile_list (the z2jh chart's singleuser.profileList has the same shape)."""
    profiles = []
    for p in PROFILES:
        override: dict = {
            "cpu_guarantee": p.cpu_guarantee,
            "cpu_limit": p.cpu_limit,
            "mem_guarantee": p.mem_guarantee,
            "mem_limit": p.mem_limit,
        }
        if p.gpus:
            override["extra_resource_limits"] = {"nvidia.com/gpu": str(p.gpus)}
            override["node_selector"] = dict(gpu_node_selector)
            override["tolerations"] = [{"key": gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"}]
        entry = {"display_name": p.display_name, "slug": p.slug, "description": p.description,
                 "kubespawner_override": override}
        if p.default:
            entry["default"] = True
        profiles.append(entry)
    return profiles


def slurm_options(slug: str, cpu_partition: str, gpu_partition: str) -> dict[str, str]:
    """Return batchspawner's template values for a profile (only these fixed values, never user text)."""
    p = next(p for p in PROFILES if p.slug == slug)
    return {
        "partition": gpu_partition if p.gpus else cpu_partition,
        "nprocs": str(int(p.cpu_limit)),
        "memory": f"{_megabytes(p.mem_limit)}M",
        "runtime": f"{p.hours:02d}:00:00",
        "gres": f"gpu:{p.gpus}" if p.gpus else "",
        "profile": p.slug,
    }
