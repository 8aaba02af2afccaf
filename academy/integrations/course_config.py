"""A course's nbgrader settings, read as data: nothing in a course folder is ever executed by the platform.

An nbgrader course keeps its settings in `nbgrader_config.py`, a Python file that nbgrader runs. The grading
worker (root), the grade sync and the portal must not run a file that a course author, or anyone who can
write the course folder, controls. So they read it here without running it: the file is parsed, and only
lines of the form

    c.<Section>.<name> = <literal>          (a string, number, boolean, None, list or dict of those)

are taken, for the settings in SETTINGS, each checked for its type. A course's `root` and `db_url` are the
platform's, never the file's (those lines are skipped unread): the course root is where the platform found
the folder, and the gradebook is `gradebook_url()`. Module docstrings, imports and `c = get_config()` are
skipped; any other statement, or any other setting, makes the whole file refused (CourseConfigError with the
line), so nothing is silently half-applied.

Where the platform needs nbgrader itself to read the settings (a subprocess), `render_config()` writes them
back out as a file of literals only.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from traitlets.config import Config

from academy.env import env as env_setting

CONFIG_FILE = "nbgrader_config.py"
MAX_CONFIG_BYTES = 64 * 1024  # a real course config is ~2 KB; a huge one is not worth parsing
# nbgrader course ids and folder names: nothing that could climb out of a folder or break a URL.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
# Set by the platform, never by a course file: the lines are skipped without reading their value.
PLATFORM_SETTINGS = frozenset({("CourseDirectory", "root"), ("CourseDirectory", "db_url")})


class CourseConfigError(ValueError):
    """A course's nbgrader_config.py holds something the platform does not read as data."""


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _int(v: Any) -> bool:
    return type(v) is int and v >= 0


def _bool(v: Any) -> bool:
    return type(v) is bool


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _str_dict(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())


def _course_id(v: Any) -> bool:
    return isinstance(v, str) and bool(SAFE_NAME.match(v))


# The settings a course may choose. Paths, class names, commands and hooks are absent on purpose: each of those
# would let a course file make the root worker read, write, import or run something of its choosing.
SETTINGS: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("CourseDirectory", "course_id"): _course_id,
    ("CourseDirectory", "ignore"): _str_list,
    ("CourseDirectory", "include"): _str_list,
    ("CourseDirectory", "max_file_size"): _int,
    ("CourseDirectory", "max_dir_size"): _int,
    ("Execute", "timeout"): _int,
    ("Execute", "startup_timeout"): _int,
    ("Execute", "iopub_timeout"): _int,
    ("Execute", "interrupt_on_timeout"): _bool,
    ("Execute", "raise_on_iopub_timeout"): _bool,
    ("Execute", "execute_retries"): _int,
    ("ClearSolutions", "code_stub"): _str_dict,
    ("ClearSolutions", "text_stub"): _str,
    ("LimitOutput", "max_lines"): _int,
    ("LimitOutput", "max_traceback"): _int,
    ("LockCells", "lock_solution_cells"): _bool,
    ("LockCells", "lock_grade_cells"): _bool,
    ("LockCells", "lock_readonly_cells"): _bool,
    ("LockCells", "lock_all_cells"): _bool,
}

# How hidden tests, solutions and mark schemes are marked, fixed at nbgrader's defaults: the judge
# (academy/grading/judging.py) and the feedback know only these, so with a course's own markers the hidden lines
# ran in the trainee's kernel and reached their feedback. A line setting the default is accepted (and dropped).
MARKERS: dict[tuple[str, str], Any] = {
    ("ClearHiddenTests", "begin_test_delimeter"): "BEGIN HIDDEN TESTS",
    ("ClearHiddenTests", "end_test_delimeter"): "END HIDDEN TESTS",
    ("ClearHiddenTests", "enforce_metadata"): True,  # hidden tests only in test cells, where the judge runs them
    ("ClearSolutions", "begin_solution_delimeter"): "BEGIN SOLUTION",
    ("ClearSolutions", "end_solution_delimeter"): "END SOLUTION",
    ("ClearSolutions", "enforce_metadata"): True,
    ("ClearMarkScheme", "begin_mark_scheme_delimeter"): "BEGIN MARK SCHEME",
    ("ClearMarkScheme", "end_mark_scheme_delimeter"): "END MARK SCHEME",
    ("ClearMarkScheme", "enforce_metadata"): True,
}


def _setting_target(node: ast.Assign) -> tuple[str, str] | None:
    """Return (Section, name) when the statement assigns c.<Section>.<name>, else None."""
    if len(node.targets) != 1:
        return None
    target = node.targets[0]
    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
        return target.value.attr, target.attr
    return None


def _is_get_config(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "c" and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "get_config"
            and not node.value.args and not node.value.keywords)


def parse_settings(source: str, where: str = CONFIG_FILE) -> dict[tuple[str, str], Any]:
    """Return the settings an nbgrader_config.py text assigns, read as literals; raise CourseConfigError."""
    if len(source.encode("utf-8", errors="replace")) > MAX_CONFIG_BYTES:
        raise CourseConfigError(f"{where}: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        tree = ast.parse(source, filename=where)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CourseConfigError(f"{where}: not readable as Python ({exc.__class__.__name__})") from None
    settings: dict[tuple[str, str], Any] = {}
    for index, node in enumerate(tree.body):
        line = f"{where}, line {node.lineno}"
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue  # the module docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _is_get_config(node):
            continue  # never run, so an import does nothing
        key = _setting_target(node) if isinstance(node, ast.Assign) else None
        if key is None:
            raise CourseConfigError(
                f"{line}: only `c.<Section>.<name> = <value>` lines are read from a course config; "
                f"this is a {node.__class__.__name__} statement")
        if key in PLATFORM_SETTINGS:
            continue  # the platform sets the course root and its gradebook itself
        if key in MARKERS:
            _check_marker(node, key, line)
            continue
        check = SETTINGS.get(key)
        if check is None:
            raise CourseConfigError(f"{line}: c.{key[0]}.{key[1]} is not a setting a course may choose "
                                    f"(see academy/integrations/course_config.py SETTINGS)")
        try:
            value = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise CourseConfigError(f"{line}: c.{key[0]}.{key[1]} must be a plain value "
                                    f"(a string, number, True/False, list or dict), not an expression") from None
        if not check(value):
            raise CourseConfigError(f"{line}: c.{key[0]}.{key[1]} has a value of the wrong kind: {value!r:.80}")
        settings[key] = value
    return settings


def _check_marker(node: ast.Assign, key: tuple[str, str], line: str) -> None:
    """Accept a line that sets a marker setting to nbgrader's default; refuse any other value."""
    default = MARKERS[key]
    try:
        value = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        value = None
    if type(value) is not type(default) or value != default:
        name = f"c.{key[0]}.{key[1]}"
        raise CourseConfigError(
            f"{line}: {name}은(는) 바꿀 수 없습니다. 채점기와 피드백은 nbgrader의 기본값({default!r})만 알기 때문에 "
            f"다른 값이면 숨은 테스트나 정답이 학생 커널에서 실행되거나 피드백에 드러납니다. 이 줄을 지우세요. / "
            f"{name} cannot be changed: the platform's judge and feedback know only nbgrader's default "
            f"({default!r}), so with another value hidden tests or solutions would run in the trainee's kernel or "
            f"reach their feedback. Remove this line.")


def read_settings(course_dir: Path) -> dict[tuple[str, str], Any]:
    """Return the settings of the course folder's nbgrader_config.py (none when it has no such file)."""
    path = Path(course_dir) / CONFIG_FILE
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CourseConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_settings(raw.decode("utf-8", errors="replace"), str(path))


def course_id(course_dir: Path, settings: Mapping[tuple[str, str], Any] | None = None) -> str:
    """Return the course's nbgrader course id: its config's course_id, else the folder's name."""
    settings = read_settings(course_dir) if settings is None else settings
    return str(settings.get(("CourseDirectory", "course_id")) or Path(course_dir).name)


# env, below, is the calling process's settings by their ACADEMY_* names (ACADEMY_VAR_DIR, ACADEMY_GRADEBOOK_URL):
# the portal passes its config's values, the hub its environment; None reads this process's environment through
# academy.env (the grading worker and the manual sync, which have no settings object to pass yet).


def _var_dir(env: Mapping[str, str] | None) -> Path:
    # As academy.config.var_dir(), without importing the portal's settings into the worker or the hub.
    return Path(env_setting("VAR_DIR", source=env) or Path(__file__).resolve().parents[2] / "var")


def default_gradebook_path(folder: str, env: Mapping[str, str] | None = None) -> Path:
    """Return where a course's SQLite gradebook lives when no gradebook URL is set: under the var folder."""
    return _var_dir(env) / "gradebooks" / folder / "gradebook.db"


def gradebook_url(course_dir: Path, template: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Return the db URL of a course's gradebook, decided by the platform (never by the course's config).

    template (else env's ACADEMY_GRADEBOOK_URL) names it, with "{course}" standing for the course folder's name;
    without one, a gradebook already beside the course (courses/<course>/gradebook.db, where earlier
    versions kept it) is used while it exists, else <var>/gradebooks/<course>/gradebook.db, outside the
    course folder, so the formgrader's OS user needs no write access to the course.
    """
    folder = Path(course_dir).name
    if not SAFE_NAME.match(folder):
        raise CourseConfigError(f"unsafe course folder name: {folder!r}")
    template = template or env_setting("GRADEBOOK_URL", source=env)
    if template:
        return template.replace("{course}", folder)
    legacy = Path(course_dir) / "gradebook.db"
    if legacy.is_file():
        return f"sqlite:///{legacy}"
    return f"sqlite:///{default_gradebook_path(folder, env)}"


def course_config(course_dir: Path, db_url: str | None = None,
                  settings: Mapping[tuple[str, str], Any] | None = None) -> Config:
    """Return the course's nbgrader Config: its settings as data, its root and gradebook from the platform."""
    course_dir = Path(course_dir)
    settings = read_settings(course_dir) if settings is None else settings
    config = Config()
    for (section, name), value in settings.items():
        config[section][name] = value
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.db_url = db_url or gradebook_url(course_dir)
    config.CourseDirectory.course_id = course_id(course_dir, settings)
    return config


def render_config(config: Config) -> str:
    """Return an nbgrader_config.py of literals only that gives nbgrader exactly this config."""
    lines = ['"""Written by the academy platform from the course\'s settings (literals only)."""',
             "c = get_config()  # noqa: F821"]
    for section in sorted(config):
        for name in sorted(config[section]):
            value = config[section][name]
            if not isinstance(value, (str, int, float, bool, list, dict, type(None))):
                raise CourseConfigError(f"{section}.{name}: not a plain value")
            lines.append(f"c.{section}.{name} = {value!r}")
    text = "\n".join(lines) + "\n"
    parse_settings_roundtrip = ast.parse(text)  # repr of literals is a literal: checked, not assumed
    for node in parse_settings_roundtrip.body[2:]:
        ast.literal_eval(node.value)  # type: ignore[attr-defined]
    return text
