"""Build the release: the frozen app (PyInstaller), a .tar.gz of it and a .deb, then measure them.

    python packaging/build_app.py [--if-stale] [--no-measure]      (bash packaging/run.sh build runs it)

Run with the Python of the venv that holds the app's dependencies and PyInstaller (the ``build`` extra).
Writes into ``dist/``:

    r1omni-live/                            the one-folder app (run r1omni-live/r1omni-live)
    r1omni-live-VERSION-linux-ARCH-KIND.tar.gz
    r1omni-live_VERSION+KIND_DEBARCH.deb
    build-info.json                         what was built from what, sizes, times, Depends

``--if-stale`` skips the build when ``build-info.json`` says the same sources and packages made the files that
are there (the test suite's fixture uses it). Start-up is measured under Xvfb when it is installed, else with
Qt's offscreen platform: the time from launching the program to its log line "first preview frame shown",
for the frozen app and for the source tree in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # packaging/ is not a package (its name would shadow PyPI's "packaging")

import deb_package
import freeze_plan

NAME = "r1omni-live"
DIST = ROOT / "dist"
WORK = ROOT / "build"
SPEC = HERE / f"{NAME}.spec"
INFO = DIST / "build-info.json"
# what the build is made of: a change in any of these (or in an installed package) makes a new build
SOURCE_PATHS = ("main.py", "pyproject.toml", "core", "desktop", "bench", "resources", "packaging")
# zstd: dpkg reads it since 1.21.18 (Debian 12; Ubuntu since 21.10), the releases whose library packages the
# Depends name anyway. On the 2-core build machine it packs the GB in ~10 s to 343 MB; dpkg's default, xz, had
# not finished after 12 minutes.
DEB_COMPRESSION = "zstd"
FIRST_FRAME_LINE = "first preview frame shown"
FIRST_FRAME_RUNS = 3
FIRST_FRAME_TIMEOUT_S = 60.0
QUIT_AFTER_S = 30  # a cap: the measurement ends the app (SIGTERM) as soon as it has shown its first frame
# a reserved, never-delivered domain (RFC 2606) until the project has an address; DEBFULLNAME/DEBEMAIL override
MAINTAINER = "R1-Omni Live developers <packaging@r1omni-live.invalid>"


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


# ---- what to build from -------------------------------------------------------------------------------------
def _project_field(name: str) -> str | None:
    """A top-level string of pyproject.toml's ``[project]`` table (``name = "..."``), or None.
    A regular expression, not tomllib, which Python 3.10 lacks."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(rf'^{name}\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def project_version() -> str:
    version = _project_field("version")
    if version is None:
        raise SystemExit("error: no version in pyproject.toml")
    return version


def source_files() -> list[Path]:
    files = []
    for name in SOURCE_PATHS:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def fingerprint(kind: str) -> str:
    """sha256 over the sources, the installed distributions and the build kind."""
    h = hashlib.sha256(f"{kind}\n{sys.version}\n".encode())
    for path in source_files():
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
        h.update(dist.encode() + b"\n")
    return h.hexdigest()


def git_commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *SOURCE_PATHS], cwd=ROOT, capture_output=True,
                           text=True, check=False).stdout.strip()
    return proc.stdout.strip() + ("+changes" if dirty else "")


# ---- the artefacts ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Artefacts:
    app_dir: Path
    tarball: Path
    deb: Path

    @property
    def binary(self) -> Path:
        return self.app_dir / NAME

    @classmethod
    def for_build(cls, version: str, kind: str, deb_arch: str) -> Artefacts:
        machine = platform.machine()
        return cls(DIST / NAME, DIST / f"{NAME}-{version}-linux-{machine}-{kind}.tar.gz",
                   DIST / f"{NAME}_{version}+{kind}_{deb_arch}.deb")


def tree_size(root: Path) -> int:
    """Bytes of the files under ``root`` (apparent sizes; links count as links)."""
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink())


def run_pyinstaller() -> float:
    """Run PyInstaller on the spec; its log goes to build/pyinstaller.log. Seconds taken."""
    WORK.mkdir(exist_ok=True)
    started = time.monotonic()
    log_path = WORK / "pyinstaller.log"
    with log_path.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
             "--distpath", str(DIST), "--workpath", str(WORK / "pyinstaller")],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False,
        )
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        raise SystemExit("error: PyInstaller failed (whole log: build/pyinstaller.log):\n" + "\n".join(tail))
    return time.monotonic() - started


def make_tarball(app_dir: Path, out: Path) -> float:
    started = time.monotonic()
    out.unlink(missing_ok=True)
    tmp = out.with_suffix(".tmp")
    # the tar program with gzip is several times faster than Python's tarfile on a GB; tarfile is the fallback
    if shutil.which("tar") and shutil.which("gzip"):
        subprocess.run(["tar", "-C", str(app_dir.parent), "--owner=0", "--group=0", "--numeric-owner", "-czf",
                        str(tmp), app_dir.name], check=True)
    else:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(app_dir, arcname=app_dir.name)
    tmp.replace(out)
    return time.monotonic() - started


def make_deb(app_dir: Path, out: Path, version: str, kind: str, arch: str) -> tuple[float, dict]:
    """Stage, compute Depends, validate the .desktop entry, build. Seconds taken and what went into control."""
    started = time.monotonic()
    deps = deb_package.system_dependencies(app_dir)
    if deps.unresolved:
        raise SystemExit(
            "error: the app needs shared libraries that are neither in the build nor on this system: "
            + ", ".join(deps.unresolved)
            + ". Install the Debian packages that provide them (apt-file search NAME) and build again."
        )
    desktop_file = HERE / f"{NAME}.desktop"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop_file)], capture_output=True, text=True,
                               check=False)
        if check.returncode != 0:
            raise SystemExit(f"error: {desktop_file.name} is not a valid desktop entry:\n{check.stdout}")
    staging = WORK / "deb-root"
    deb_package.stage(app_dir, staging, desktop_file=desktop_file, icon_png=ROOT / "resources" / "icon.png",
                      icon_svg=ROOT / "resources" / "icon.svg")
    installed_kib = deb_package.installed_size_kib(staging)
    control = deb_package.control_text(
        version=f"{version}+{kind}", architecture=arch, depends=deps.packages, installed_kib=installed_kib,
        summary=_summary(), maintainer=_maintainer(), kind=kind,
    )
    out.unlink(missing_ok=True)
    try:
        deb_package.build(staging, control, out, DEB_COMPRESSION)
    except deb_package.PackagingError as exc:
        raise SystemExit(f"error: {exc}") from None
    shutil.rmtree(staging)
    return time.monotonic() - started, {"installed_kib": installed_kib, "depends": list(deps.packages),
                                        "sonames": deps.sonames}


def _summary() -> str:
    return _project_field("description") or "live emotion monitor with R1-Omni"


def _maintainer() -> str:
    """DEBFULLNAME / DEBEMAIL, as Debian's own tools read them, else the project's address."""
    name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    return f"{name} <{email}>" if name and email else MAINTAINER


# ---- start-up time ------------------------------------------------------------------------------------------
class Display:
    """A private X server for the measurement (``Xvfb -displayfd`` picks a free display), or Qt's offscreen
    platform when Xvfb is not installed."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {"QT_QPA_PLATFORM": "offscreen"}

    @property
    def platform(self) -> str:
        return self.env["QT_QPA_PLATFORM"]

    def __enter__(self) -> Self:
        if shutil.which("Xvfb"):
            read_fd, write_fd = os.pipe()
            self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                                          "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
            os.close(write_fd)
            with os.fdopen(read_fd) as f:
                number = f.readline().strip()
            if number.isdigit():
                self.env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{number}"}
            else:
                self.__exit__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def first_frame_seconds(command: list[str], display: Display, config_dir: Path) -> float:
    """Launch ``command --source demo`` and return the seconds until it logs its first preview frame; the app is
    then ended, its exit code does not matter here (the test suite checks scripted runs end cleanly)."""
    env = {**os.environ, **display.env, "R1OMNI_LIVE_CONFIG_DIR": str(config_dir), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    proc = subprocess.Popen([*command, "--source", "demo", "--quit-after", str(QUIT_AFTER_S)], cwd=config_dir,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(FIRST_FRAME_TIMEOUT_S, proc.kill)  # a hung app ends the read loop below
    watchdog.start()
    seen = None
    try:
        for line in proc.stderr:
            if FIRST_FRAME_LINE in line:
                seen = time.monotonic() - started
                proc.terminate()
                break
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if seen is None:
        raise SystemExit(f"error: {command[0]} showed no preview frame (exit code {proc.returncode})")
    return seen


def measure_start_up(binary: Path) -> dict:
    """Median time to the first preview frame over FIRST_FRAME_RUNS launches, frozen app and source tree."""
    results: dict = {}
    with Display() as display, tempfile.TemporaryDirectory(prefix="r1omni-startup-") as tmp:
        results["platform"] = display.platform
        for label, command in (("frozen", [str(binary)]), ("source", [sys.executable, str(ROOT / "main.py")])):
            runs = [first_frame_seconds(command, display, Path(tmp)) for _ in range(FIRST_FRAME_RUNS)]
            results[label] = {"median_s": statistics.median(runs), "runs_s": runs}
    return results


# ---- the whole build ----------------------------------------------------------------------------------------
def up_to_date(stamp: str, art: Artefacts) -> dict | None:
    try:
        info = json.loads(INFO.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = (art.binary, art.tarball, art.deb)
    return info if info.get("fingerprint") == stamp and all(p.exists() for p in files) else None


def report(info: dict) -> None:
    mib = 1024 * 1024
    log(f"app folder   {info['app_dir']}: {info['unpacked_bytes'] / mib:.0f} MiB unpacked")
    log(f"tarball      {info['tarball']}: {info['tarball_bytes'] / mib:.0f} MiB")
    log(f"deb          {info['deb']}: {info['deb_bytes'] / mib:.0f} MiB ({DEB_COMPRESSION}), "
        f"Installed-Size {info['installed_kib'] / 1024:.0f} MiB")
    times = info["seconds"]
    log("build time   " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    start = info.get("start_up")
    if start:
        f, s = start["frozen"], start["source"]
        log(f"first frame  frozen app {f['median_s']:.2f} s, source tree {s['median_s']:.2f} s "
            f"(median of {len(f['runs_s'])} launches each, platform {start['platform']}; "
            f"frozen runs {', '.join(f'{x:.2f}' for x in f['runs_s'])})")
    log(f"Depends      {', '.join(info['depends'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--if-stale", action="store_true", help="do nothing when the build in dist/ is current")
    parser.add_argument("--no-measure", action="store_true", help="skip the start-up measurement")
    args = parser.parse_args(argv)

    try:
        kind = freeze_plan.torch_kind()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    version = project_version()
    arch = deb_package.debian_architecture()
    art = Artefacts.for_build(version, kind, arch)
    stamp = fingerprint(kind)
    if args.if_stale:
        info = up_to_date(stamp, art)
        if info is not None:
            log(f"up to date: {INFO} (fingerprint {stamp[:12]}, commit {info.get('commit')})")
            report(info)
            return 0
    INFO.unlink(missing_ok=True)  # a failed build leaves no stamp that could vouch for old files

    total = time.monotonic()
    log(f"PyInstaller ({kind} build), log in build/pyinstaller.log ...")
    seconds = {"pyinstaller": run_pyinstaller()}
    help_run = subprocess.run([str(art.binary), "--help"], capture_output=True, text=True, check=False)
    if help_run.returncode != 0:
        raise SystemExit(f"error: the frozen app does not start:\n{help_run.stderr[-3000:]}")
    log("tarball ...")
    seconds["tarball"] = make_tarball(art.app_dir, art.tarball)
    log(f"Debian package ({DEB_COMPRESSION}) ...")
    seconds["deb"], control = make_deb(art.app_dir, art.deb, version, kind, arch)
    seconds["total"] = time.monotonic() - total

    info = {
        "fingerprint": stamp, "commit": git_commit(), "kind": kind, "version": version,
        "app_dir": str(art.app_dir.relative_to(ROOT)), "binary": str(art.binary.relative_to(ROOT)),
        "tarball": str(art.tarball.relative_to(ROOT)), "deb": str(art.deb.relative_to(ROOT)),
        "unpacked_bytes": tree_size(art.app_dir), "tarball_bytes": art.tarball.stat().st_size,
        "deb_bytes": art.deb.stat().st_size, "seconds": seconds, **control,
    }
    if not args.no_measure:
        log("start-up time ...")
        info["start_up"] = measure_start_up(art.binary)
    INFO.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    report(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
