"""The Kubernetes values hold room for a class start: placeholders, pre-pulled images, a spawn limit above the
class, and the scheduled scale-up before 09:00 that the README describes."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CLASS_SIZE = 150
NODE_CPU, NODE_MEMORY_G = 16, 64  # the node size the README's sizing uses


def _values() -> dict:
    return yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())


def _cronjobs() -> dict[str, dict]:
    docs = yaml.safe_load_all((REPO / "deploy" / "class-start-cronjob.yaml").read_text())
    return {d["metadata"]["name"]: d for d in docs if d and d["kind"] == "CronJob"}


def _memory_g(text: str) -> float:
    return float(text.rstrip("G"))


def test_placeholders_and_pre_pulling_are_on_with_sane_numbers():
    """Placeholders stand by (at most one node's worth, never a class), and both pre-pullers run."""
    values = _values()
    placeholder = values["scheduling"]["userPlaceholder"]
    guarantee = values["singleuser"]
    per_node = min(NODE_CPU / guarantee["cpu"]["guarantee"], NODE_MEMORY_G / _memory_g(guarantee["memory"]["guarantee"]))
    assert placeholder["enabled"] is True
    assert 1 <= placeholder["replicas"] <= per_node < CLASS_SIZE
    assert values["scheduling"]["podPriority"]["enabled"] is True  # placeholders are evicted only with priorities
    assert values["prePuller"]["hook"]["enabled"] is True
    assert values["prePuller"]["continuous"]["enabled"] is True
    assert values["hub"]["concurrentSpawnLimit"] >= CLASS_SIZE


def test_the_class_start_scale_up_comes_before_nine_and_the_scale_down_after():
    """Scale-up to the class size at 08:30 Seoul time on school days; back to the standing number at 09:30."""
    jobs = _cronjobs()
    up, down = jobs["class-start-scale-up"]["spec"], jobs["class-start-scale-down"]["spec"]
    for spec in (up, down):
        assert spec["timeZone"] == "Asia/Seoul"
        assert spec["schedule"].split()[2:] == ["*", "*", "1-5"]
    minute, hour = (int(x) for x in up["schedule"].split()[:2])
    assert (hour, minute) < (9, 0) and (hour, minute) >= (8, 0)  # before the class, after the night
    assert tuple(int(x) for x in down["schedule"].split()[1::-1]) > (9, 0)

    def replicas(spec: dict) -> int:
        args = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "statefulset/user-placeholder" in args
        return int(next(a for a in args if a.startswith("--replicas=")).split("=")[1])

    assert replicas(up) == CLASS_SIZE
    assert replicas(down) == _values()["scheduling"]["userPlaceholder"]["replicas"]
