"""Reading README.md and docs/*.md as a reader would, and running every example they show.

A page is a list of fenced blocks, run in order in one sandbox directory (a copy of `rules/`,
with `bench/`, `schemas/` and `.venv` linked), sharing one environment and one Python namespace:

- `python`: executed (a top-level `await` runs in a coroutine);
- `pycon`: run by doctest (ELLIPSIS, NORMALIZE_WHITESPACE), so the output shown is checked;
- `console` / `sh`: shell commands. In a block with `$ ` prompts, the lines after a command are
  its output, compared line by line (`…` inside a line matches any text, a line of only `…` any
  number of lines); a command shown with no output must print nothing. A block without prompts
  is a list of commands whose output is not shown. Every command must exit 0, unless it ends
  with a comment `# exits N`. `rulerouter …` runs in-process through `rulerouter.cli.main` (fast);
  `CMD --port N &` starts a background job on an ephemeral port instead, and `127.0.0.1:N` in
  everything that follows on the page is rewritten to the port it got; `kill %J` stops job J;
  `export NAME=VALUE` sets a variable for the rest of the page; anything else runs in bash;
- `toml`: parsed; a whole rule file (one with `schema_version`) must lint with no diagnostic;
- `json`: one JSON value, or one per line (unless the block is a file a command reads, which may
  hold bad lines on purpose);
- `text`: prose-like blocks (diagrams); a block of `rulerouter …` usage lines is checked against
  the argument parser.

Two markers, an HTML comment on the line before a block: `<!-- file: NAME -->` saves the block
as NAME in the sandbox (a later command must use it), and `<!-- not-run: REASON -->` is the only
way to leave a block unrun.
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import io
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .conftest import ROOT

LANGUAGES = {"python", "pycon", "console", "sh", "toml", "json", "text"}
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*(not-run|file):\s*(.*?)\s*-->\s*$")
SHELL_OPERATORS = re.compile(r"[|<>;`$]|&&")
EXITS = re.compile(r"#\s*exits\s+(\d+)\s*$")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
PORT_ARG = re.compile(r"--port\s+(\d+)")
ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(\"[^\"]*\"|'[^']*'|\S+)\s+")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: tuple[str, str] | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(previous)
        found.append(Block(page, start + 1, fence.group(1), "\n".join(body) + "\n",
                           (marker.group(1), marker.group(2)) if marker else None))
        index += 1
    return found


def prose(page: Path) -> str:
    """The page without its fenced blocks (each line of one replaced by an empty line)."""
    out: list[str] = []
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if (not inside and FENCE.match(line)) or (inside and line.rstrip() == "```"):
            inside = not inside
            out.append("")
        else:
            out.append("" if inside else line)
    return "\n".join(out)


# ---- output matching ---------------------------------------------------------------------------


def output_pattern(expected: list[str]) -> re.Pattern[str]:
    parts: list[str] = []
    for line in expected:
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.rstrip().split("…")) + r"[ \t]*\n")
    return re.compile("".join(parts))


def output_matches(expected: list[str], actual: str) -> bool:
    normal = "".join(line.rstrip() + "\n" for line in actual.rstrip("\n").splitlines()) if actual.strip() else ""
    return output_pattern(expected).fullmatch(normal) is not None


# ---- shell sessions ----------------------------------------------------------------------------


@dataclass
class Command:
    text: str
    expected: list[str] | None  # None: output not shown (a block without prompts)


def commands(block: Block) -> list[Command]:
    lines = block.text.rstrip("\n").splitlines()
    session = any(line.startswith("$ ") for line in lines)
    found: list[Command] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip() or (not session and line.lstrip().startswith("#")):
            index += 1
            continue
        if session and not line.startswith("$ "):
            raise AssertionError(f"{block.where}: output before the first command: {line!r}")
        text = line[2:] if session else line
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text[:-1] + " " + lines[index].strip()
        index += 1
        expected: list[str] | None = None
        if session:
            expected = []
            while index < len(lines) and not lines[index].startswith("$ "):
                expected.append(lines[index])
                index += 1
            while expected and not expected[-1].strip():
                expected.pop()
        found.append(Command(text, expected))
    return found


@dataclass
class Job:
    command: str
    proc: subprocess.Popen[str]
    stderr: Path
    output: list[str] = field(default_factory=list)


@contextlib.contextmanager
def environment(env: dict[str, str], cwd: Path) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


class Page:
    """One page's examples, run in order in a sandbox."""

    def __init__(self, page: Path, sandbox: Path) -> None:
        self.page = page
        self.sandbox = sandbox
        shutil.copytree(ROOT / "rules", sandbox / "rules")
        for name in ("bench", "schemas"):
            (sandbox / name).symlink_to(ROOT / name)
        if sys.prefix != sys.base_prefix:  # the suite runs in a virtual environment: it is .venv here
            (sandbox / ".venv").symlink_to(sys.prefix)
        bindir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RULEROUTER_")}
        self.env.update(PATH=bindir + os.pathsep + self.env.get("PATH", ""), PYTHONUNBUFFERED="1", NO_COLOR="1")
        self.ports: dict[str, str] = {}
        self.jobs: dict[int, Job] = {}
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.saved: dict[str, Block] = {}
        self.used: set[str] = set()

    # substitution of the ports the page names by the ones the jobs got
    def localise(self, text: str) -> str:
        for doc_port, real in self.ports.items():
            text = re.sub(rf"(127\.0\.0\.1|localhost):{doc_port}\b", rf"\g<1>:{real}", text)
        return text

    def run(self, block: Block) -> None:
        if block.marker and block.marker[0] == "not-run":
            assert block.marker[1], f"{block.where}: a not-run marker must say why"
            return
        assert block.lang in LANGUAGES, f"{block.where}: fenced block without a known language ({block.lang!r}); use one of {sorted(LANGUAGES)}"
        if block.marker and block.marker[0] == "file":
            self.save(block)
        getattr(self, "run_" + block.lang)(block)

    def save(self, block: Block) -> None:
        name = block.marker[1]  # type: ignore[index]
        assert name and not Path(name).is_absolute() and ".." not in Path(name).parts, f"{block.where}: bad file name {name!r}"
        target = self.sandbox / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.localise(block.text), encoding="utf-8")
        self.saved[name] = block

    def note_uses(self, text: str) -> None:
        self.used.update(name for name in self.saved if re.search(rf"(^|[\s=/\"']){re.escape(name)}\b", text))

    # ---- languages ----

    def run_python(self, block: Block) -> None:
        code = self.localise(block.text)
        self.note_uses(code)
        with environment(self.env, self.sandbox):
            if re.search(r"^\S.*\bawait\b", code, re.M):  # a top-level await: run it in a coroutine
                body = "".join(f"    {line}\n" for line in code.splitlines())
                exec(compile(f"async def __example():\n{body}", block.where, "exec"), self.namespace)
                asyncio.run(self.namespace.pop("__example")())
            else:
                exec(compile(code, block.where, "exec"), self.namespace)

    def run_pycon(self, block: Block) -> None:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(self.localise(block.text), self.namespace, block.where, str(block.page), block.line)
        report = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        with environment(self.env, self.sandbox):
            runner.run(test, out=report.write, clear_globs=False)
        self.namespace.update(test.globs)
        assert runner.failures == 0, f"{block.where}: the output shown is not what runs:\n{report.getvalue()}"

    def run_toml(self, block: Block) -> None:
        try:
            data = tomllib.loads(block.text)
        except tomllib.TOMLDecodeError as exc:
            raise AssertionError(f"{block.where}: not TOML: {exc}") from None
        if "schema_version" in data and not block.marker:
            from rulerouter.policy.load import check_text

            keys = {p.get("api_key_env"): "set" for p in data.get("providers", {}).values() if isinstance(p, dict)}
            diagnostics = check_text(block.text, block.where, env={k: v for k, v in keys.items() if k}).diagnostics
            assert not diagnostics, f"{block.where}: a whole rule file must lint clean:\n" + "\n".join(d.format() for d in diagnostics)

    def run_json(self, block: Block) -> None:
        if block.marker:  # a file a command reads: that command's output says how it fared
            return
        try:
            json.loads(block.text)
        except ValueError:
            for number, line in enumerate(block.text.splitlines(), block.line + 1):
                if line.strip():
                    try:
                        json.loads(line)
                    except ValueError as exc:
                        raise AssertionError(f"{block.page.name}:{number}: neither a JSON document nor JSON lines: {exc}") from None

    def run_text(self, block: Block) -> None:
        if is_usage(block):
            check_usage(block)

    def run_console(self, block: Block) -> None:
        for command in commands(block):
            self.shell(block, command)

    run_sh = run_console

    # ---- shell ----

    def shell(self, block: Block, command: Command) -> None:
        text = self.localise(command.text).strip()
        self.note_uses(text)
        wanted = EXITS.search(text)
        expected_code = int(wanted.group(1)) if wanted else 0
        tokens = shlex.split(text, comments=True)
        where = f"{block.where}: `{command.text}`"
        if text.endswith("&"):
            first = self.start(text.rstrip("& "), where)
            if command.expected is not None:
                assert output_matches([self.localise(e) for e in command.expected], first), f"{where} printed {first!r}"
            return
        if tokens[0] == "export":
            for assignment in tokens[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            code, output = 0, ""
        elif tokens[0] == "kill" and all(t.startswith("%") for t in tokens[1:]):
            for token in tokens[1:]:
                self.stop(int(token[1:]), where)
            code, output = 0, ""
        elif tokens[0] in ("source", "."):
            assert (self.sandbox / tokens[1]).exists(), f"{where}: {tokens[1]} does not exist"
            code, output = 0, ""
        elif tokens[0] == "rulerouter" and not SHELL_OPERATORS.search(text.split("#")[0]):
            code, output = self.cli(tokens[1:], "")
        elif tokens[:1] == ["echo"] and tokens[2:4] == ["|", "rulerouter"] and not SHELL_OPERATORS.search(" ".join(tokens[4:])):
            code, output = self.cli(tokens[4:], tokens[1] + "\n")
        else:
            done = subprocess.run(["bash", "-c", text], cwd=self.sandbox, env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=120)
            code, output = done.returncode, done.stdout
        assert code == expected_code, f"{where} exited {code} (expected {expected_code}):\n{output}"
        if command.expected is not None:
            expected = [self.localise(line) for line in command.expected]
            assert output_matches(expected, output), f"{where} printed:\n{output}\nbut the page shows:\n" + "\n".join(expected)

    def cli(self, argv: list[str], stdin: str) -> tuple[int, str]:
        from rulerouter.cli import main

        buffer = io.StringIO()
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with environment(self.env, self.sandbox), contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                try:
                    code = main(argv)
                except SystemExit as stop:  # argparse
                    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        finally:
            sys.stdin = saved_stdin
        return code, buffer.getvalue()

    def start(self, text: str, where: str) -> str:
        """Start a background job on an ephemeral port; return its first line of output."""
        doc_port = PORT_ARG.search(text)
        assert doc_port, f"{where}: a background job must take --port (the suite gives it an ephemeral one)"
        number = len(self.jobs) + 1
        stderr = self.sandbox / f".job-{number}.stderr"
        env = dict(self.env)
        while assignment := ASSIGNMENT.match(text):  # `NAME=VALUE command &`: the job's own environment
            env[assignment.group(1)] = shlex.split(assignment.group(2))[0]
            text = text[assignment.end():]
        proc = subprocess.Popen(["bash", "-c", "exec " + PORT_ARG.sub("--port 0", text)], cwd=self.sandbox, env=env,
                                stdout=subprocess.PIPE, stderr=stderr.open("w"), text=True, start_new_session=True)
        job = Job(text, proc, stderr)
        self.jobs[number] = job
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                job.output.append(line)
                lines.put(line)
            lines.put("")

        threading.Thread(target=drain, daemon=True).start()
        try:
            first = lines.get(timeout=60)
        except queue.Empty:
            first = ""
        listening = LISTENING.search(first)
        assert listening, f"{where}: did not start ({first!r}); stderr:\n{stderr.read_text()}"
        self.ports[doc_port.group(1)] = listening.group(1)
        return first

    def stop(self, number: int, where: str) -> None:
        job = self.jobs.get(number)
        assert job is not None and job.proc.poll() is None, f"{where}: there is no running job %{number}"
        os.killpg(job.proc.pid, signal.SIGTERM)
        code = job.proc.wait(30)
        assert code in (0, -signal.SIGTERM), f"{where}: job %{number} ({job.command}) ended with {code}:\n{job.stderr.read_text()}"

    def close(self) -> list[str]:
        """Stop what the page left running; return what it left undone."""
        left = [f"job %{n} ({job.command}) is still running at the end of the page" for n, job in self.jobs.items() if job.proc.poll() is None]
        for job in self.jobs.values():
            if job.proc.poll() is None:
                os.killpg(job.proc.pid, signal.SIGKILL)
                job.proc.wait(10)
        left += [f"{block.where}: file {name} is never used by a command" for name, block in self.saved.items() if name not in self.used]
        return left


# ---- usage lines --------------------------------------------------------------------------------


def is_usage(block: Block) -> bool:
    """A block of `rulerouter COMMAND [options]` lines (continuations indented)."""
    lines = [line for line in block.text.splitlines() if line.strip()]
    return bool(lines) and lines[0].startswith("rulerouter ") and all(line.startswith(("rulerouter ", " ")) for line in lines)


def usage_entries(block: Block) -> list[str]:
    entries: list[str] = []
    for line in block.text.splitlines():
        if line.startswith("rulerouter "):
            entries.append(line)
        elif line.strip():
            entries[-1] += " " + line.strip()
    return entries


def subcommands() -> dict[str, Any]:
    import argparse

    from rulerouter.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def check_usage(block: Block) -> None:
    """Every option a usage line shows exists; a line without `…` shows every option there is."""
    parsers = subcommands()
    for entry in usage_entries(block):
        name = entry.split()[1]
        assert name in parsers, f"{block.where}: there is no command `rulerouter {name}`"
        actions = [a for a in parsers[name]._actions if a.option_strings and "--help" not in a.option_strings]
        known = {option for action in actions for option in action.option_strings}
        shown = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", entry))
        assert shown <= known, f"{block.where}: `rulerouter {name}` has no option {sorted(shown - known)}"
        if "…" not in entry:
            missing = [action.option_strings[-1] for action in actions if not shown & set(action.option_strings)]
            assert not missing, f"{block.where}: the usage of `rulerouter {name}` leaves out {missing} (add them, or end the line with …)"
