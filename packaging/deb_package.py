"""The Debian package of the frozen app: file layout, the system libraries it depends on, ``dpkg-deb``.

Layout (the Filesystem Hierarchy Standard's place for a self-contained add-on application):

    /opt/r1omni-live/                                   the one-folder build, as PyInstaller made it
    /usr/bin/r1omni-live -> ../../opt/r1omni-live/r1omni-live   (the bootloader follows the link to its folder)
    /usr/share/applications/r1omni-live.desktop
    /usr/share/icons/hicolor/256x256/apps/r1omni-live.png, .../scalable/apps/r1omni-live.svg
    /usr/share/doc/r1omni-live/copyright

No maintainer scripts: the desktop database and the icon cache are refreshed by the triggers that
desktop-file-utils and hicolor-icon-theme declare on those folders.

``Depends`` is computed, not written by hand: every ELF file in the build names the shared libraries it needs
(``NEEDED``); those the build does not carry are looked up in the system's linker cache and mapped to the Debian
package that owns them (the approach of ``dpkg-shlibdeps``). ``libc6`` gets the highest glibc symbol version any
file needs. Libraries loaded with ``dlopen`` by name appear in no ``NEEDED`` list: ``DLOPEN_DEPENDS``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "r1omni-live"
INSTALL_DIR = Path("opt") / PACKAGE
ICON_SIZE_DIR = "256x256"  # resources/icon.png is 256 x 256

# name -> why: loaded at run time by name, so no ELF file lists it
DLOPEN_DEPENDS = {
    "libportaudio2": "sounddevice opens PortAudio with ctypes (the microphone)",
}
# the UI's text needs some font (Qt finds it through fontconfig), and the Chinese UI one with its glyphs
# (desktop.i18n.CJK_FONT_HINT)
RECOMMENDS = ("fonts-dejavu-core", "fonts-noto-cjk")
# sonames that come with a driver, not with a Debian package of this system: never a Depends
DRIVER_PROVIDED = ("libcuda.so.1", "libnvidia-ml.so.1")

GLIBC_VERSION = re.compile(r"\bGLIBC_(\d+(?:\.\d+)+)\b")
ELF_MAGIC = b"\x7fELF"


class PackagingError(RuntimeError):
    """A problem that stops the package from being built; the message names it and the fix."""


@dataclass(frozen=True)
class ElfNeeds:
    needed: frozenset[str]  # sonames from NEEDED entries
    glibc: tuple[int, ...]  # highest GLIBC_x.y symbol version referenced; () when none


def elf_files(root: Path) -> list[Path]:
    """Regular (non-link) files under ``root`` that start with the ELF magic, sorted."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == ELF_MAGIC:
                    found.append(path)
    return found


def parse_objdump(text: str) -> ElfNeeds:
    """``objdump -p`` output -> what the file needs from the dynamic linker."""
    needed = frozenset(m.group(1) for m in re.finditer(r"^\s*NEEDED\s+(\S+)", text, re.MULTILINE))
    versions = [tuple(int(x) for x in v.split(".")) for v in GLIBC_VERSION.findall(text)]
    return ElfNeeds(needed, max(versions, default=()))


def elf_needs(path: Path) -> ElfNeeds:
    out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=False)
    if out.returncode != 0:  # not a dynamic object objdump understands (e.g. a firmware blob): needs nothing
        return ElfNeeds(frozenset(), ())
    return parse_objdump(out.stdout)


def parse_ldconfig(text: str, machine: str = "x86-64") -> dict[str, str]:
    """``ldconfig -p`` output -> soname: path, for libraries of this machine's word size (first entry wins)."""
    found: dict[str, str] = {}
    for m in re.finditer(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)\s*$", text, re.MULTILINE):
        soname, flags, path = m.groups()
        if machine in flags:
            found.setdefault(soname, path)
    return found


def parse_dpkg_search(text: str) -> dict[str, str]:
    """``dpkg -S`` output (``pkg[:arch][, pkg2]: /path``) -> path: package name without architecture."""
    owners = {}
    for line in text.splitlines():
        if ": " not in line or line.startswith("diversion "):
            continue
        packages, path = line.rsplit(": ", 1)
        if path.startswith("/"):  # not "dpkg-query: no path found matching pattern ..."
            owners[path.strip()] = packages.split(",")[0].strip().split(":")[0]
    return owners


def _path_variants(path: str) -> list[str]:
    """A library path as dpkg may have recorded it (merged /usr: /lib/... and /usr/lib/... are one file)."""
    variants = [path, os.path.realpath(path)]
    for p in list(variants):
        if p.startswith("/usr/lib/"):
            variants.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            variants.append("/usr" + p)
    return list(dict.fromkeys(variants))


@dataclass(frozen=True)
class Dependencies:
    packages: tuple[str, ...]  # Debian packages, sorted, libc6 with its minimum version
    sonames: dict[str, str]  # system soname -> package, for the build log
    unresolved: tuple[str, ...]  # needed by some file, neither in the build nor on this system


def system_dependencies(app_dir: Path) -> Dependencies:
    """What the frozen app at ``app_dir`` needs from the system, as Debian package names."""
    files = elf_files(app_dir)
    carried = {p.name for p in app_dir.rglob("*")}  # files and the symlinks PyInstaller makes to them
    needed: set[str] = set()
    glibc: tuple[int, ...] = ()
    for path in files:
        needs = elf_needs(path)
        needed |= needs.needed
        glibc = max(glibc, needs.glibc)
    external = sorted(n for n in needed - carried if n not in DRIVER_PROVIDED)
    ldconfig = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    where = parse_ldconfig(ldconfig, machine=_ldconfig_machine())
    unresolved = tuple(n for n in external if n not in where)
    candidates = {n: _path_variants(where[n]) for n in external if n in where}
    search = sorted({v for vs in candidates.values() for v in vs})
    owners = parse_dpkg_search(
        subprocess.run(["dpkg", "-S", *search], capture_output=True, text=True, check=False).stdout
    ) if search else {}
    sonames, orphans = {}, []
    for soname, variants in candidates.items():
        owner = next((owners[v] for v in variants if v in owners), None)
        if owner is None:
            orphans.append(soname)
        else:
            sonames[soname] = owner
    packages = set(sonames.values()) | set(DLOPEN_DEPENDS)
    packages.discard("libc6")
    libc = "libc6" + (f" (>= {'.'.join(map(str, glibc))})" if glibc else "")
    return Dependencies(tuple(sorted(packages)) + (libc,), sonames, tuple(sorted(unresolved + tuple(orphans))))


def _ldconfig_machine() -> str:
    machine = os.uname().machine
    return {"x86_64": "x86-64", "aarch64": "AArch64"}.get(machine, machine)


def debian_architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def installed_size_kib(root: Path) -> int:
    """Installed-Size as dpkg-gencontrol counts it: each file and link rounded up to 1 KiB, plus 1 per folder."""
    total = 0
    for path in root.rglob("*"):
        if path.is_symlink() or path.is_file():
            total += -(-path.lstat().st_size // 1024)
        else:
            total += 1
    return total


def control_text(*, version: str, architecture: str, depends: tuple[str, ...], installed_kib: int,
                 summary: str, maintainer: str, kind: str) -> str:
    """The DEBIAN/control file."""
    gpu = ("It uses an NVIDIA GPU through CUDA when one is present (the NVIDIA driver is needed)."
           if kind == "cuda" else "This build runs the model on the CPU.")
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {architecture}\n"
        f"Maintainer: {maintainer}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: science\n"
        "Priority: optional\n"
        f"Description: {summary}\n"
        " A desktop app that captures a webcam and a microphone, runs the R1-Omni\n"
        " emotion model on windows of video and audio, plots an emotion timeline,\n"
        " streams the model's reasoning and records sessions that can be exported\n"
        " and replayed. Command-line subcommands analyse and evaluate video files.\n"
        " .\n"
        f" {gpu} The model weights are not included:\n"
        " the app downloads them (r1omni-live download) or opens a local folder.\n"
    )


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: R1-Omni Live
Comment: The application is under the Apache License 2.0. /opt/r1omni-live/_internal holds Python and the
 Python libraries it runs on, each under its own licence; their licence files are in their *.dist-info folders
 where the library ships one. The R1-Omni model weights are not part of this package and have their own terms.

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
"""


def stage(app_dir: Path, staging: Path, *, desktop_file: Path, icon_png: Path, icon_svg: Path) -> None:
    """Lay out the package tree under ``staging`` (emptied first). The app's files are hard links into
    ``app_dir`` where the file system allows it (no second GB on disk), copies otherwise."""
    if staging.exists():
        shutil.rmtree(staging)
    opt = staging / INSTALL_DIR
    opt.parent.mkdir(parents=True)
    try:
        shutil.copytree(app_dir, opt, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(opt, ignore_errors=True)
        shutil.copytree(app_dir, opt, symlinks=True)
    usr_bin = staging / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / PACKAGE).symlink_to(Path("..") / ".." / INSTALL_DIR / PACKAGE)
    share = staging / "usr" / "share"
    for src, dest in (
        (desktop_file, share / "applications" / f"{PACKAGE}.desktop"),
        (icon_png, share / "icons" / "hicolor" / ICON_SIZE_DIR / "apps" / f"{PACKAGE}.png"),
        (icon_svg, share / "icons" / "hicolor" / "scalable" / "apps" / f"{PACKAGE}.svg"),
    ):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT, encoding="utf-8")
    for path in [staging, *staging.rglob("*")]:  # dpkg-deb wants 0755 folders; files keep their x bit
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif not str(path).startswith(str(opt)):  # hard links share their mode with dist/: leave those
            path.chmod(0o644)


def build(staging: Path, control: str, out: Path, compression: str) -> None:
    """Write DEBIAN/control and run ``dpkg-deb --build``; PackagingError with dpkg-deb's message on failure."""
    debian = staging / "DEBIAN"
    debian.mkdir(exist_ok=True)
    debian.chmod(0o755)
    (debian / "control").write_text(control, encoding="utf-8")
    (debian / "control").chmod(0o644)
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(staging), str(out)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise PackagingError(f"dpkg-deb could not build {out.name}: {proc.stderr.strip() or proc.stdout.strip()}")
