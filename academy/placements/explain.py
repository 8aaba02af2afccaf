"""The match's explanations in words: where a trainee was placed and, for each higher choice, why not there.

The matching core (academy.placements.matching) decides and says why as data (Explanation, WhyNot, Reason);
this module turns that data into one sentence in Korean or English, the text stored on each outcome.
"""
from __future__ import annotations

from collections.abc import Mapping

from academy.placements.matching import DemandId, Explanation, Reason, WhyNot


def render(explanation: Explanation, lang: str = "ko", names: Mapping[DemandId, str] | None = None) -> str:
    """Say where a trainee was placed and why not higher, in Korean ("ko") or English ("en")."""
    words = _KO if lang == "ko" else _EN
    if explanation.demand is None:
        head = words["none"] if explanation.ranked else words["empty"]
    else:
        head = words["placed"].format(choice=_choice(explanation.choice, lang))
    parts = [head] + [render_why_not(w, lang, names) for w in explanation.preferred]
    return "; ".join(parts)


def render_why_not(why: WhyNot, lang: str = "ko", names: Mapping[DemandId, str] | None = None) -> str:
    """Say in one clause why a trainee is not placed at one demand."""
    words = _KO if lang == "ko" else _EN
    label = (names or {}).get(why.demand)
    if why.choice is None:
        what = label or words["this"]
        # Korean topic particle: 은 after a final consonant, 는 after a vowel; unknown for a free label.
        particle = "은(는)" if label else "는"
    else:
        what = _choice(why.choice, lang) + (f"{words['gap']}({label})" if label else "")
        particle = "은"
    topic = what + particle if lang == "ko" else what
    return words[why.reason.value].format(what=what, topic=topic)


def _choice(k: int | None, lang: str) -> str:
    """Name the k-th choice: "2지망" or "your 2nd choice"."""
    if lang == "ko":
        return f"{k}지망"
    suffix = "th" if k is None or 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"your {k}{suffix} choice"


_KO = {
    "placed": "{choice}에 배정되었습니다",
    "none": "배정되지 않았습니다",
    "empty": "지망한 수요가 없어 배정되지 않았습니다",
    "this": "이 수요",
    "gap": "",
    Reason.FILLED_BY_HIGHER.value: "{topic} 귀하보다 높은 순위의 훈련생으로 채워졌습니다",
    Reason.NOT_RANKED_BY_DEMAND.value: "{topic} 귀하를 순위에 올리지 않았습니다",
    Reason.NOT_RANKED_BY_YOU.value: "{topic} 귀하가 지망하지 않았습니다",
    Reason.NO_PLACES.value: "{topic} 모집 인원이 없었습니다",
    Reason.PLACED_HIGHER.value: "{what}보다 높은 지망에 배정되었습니다",
}
_EN = {
    "placed": "you were placed at {choice}",
    "none": "you were not placed",
    "empty": "you were not placed because you ranked no demands",
    "this": "this demand",
    "gap": " ",
    Reason.FILLED_BY_HIGHER.value: "{what} filled with trainees it ranked higher",
    Reason.NOT_RANKED_BY_DEMAND.value: "{what} did not rank you",
    Reason.NOT_RANKED_BY_YOU.value: "you did not rank {what}",
    Reason.NO_PLACES.value: "{what} had no places",
    Reason.PLACED_HIGHER.value: "you were placed at a choice you ranked above {what}",
}
