"""Before Qt starts on an X11 desktop: name the system libraries its xcb platform plugin lacks, and how to install them.

Without them Qt only says it "could not load the Qt platform plugin xcb" and aborts; the usual cause is
libxcb-cursor0, libxcb-icccm4 or libxcb-keysyms1 missing on a Debian or Ubuntu desktop. Run as
`python -m notellm.app.xcb_check` (scripts/run.sh does) it prints the same message and exits 1;
with `--apt-packages` it prints the Debian packages that hold what is missing, display or not
(scripts/system_packages.sh installs them for the X11 window test).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

# The shared libraries Qt's xcb plugin (and the Qt libraries it loads) need from the system, with the
# package holding each on Debian/Ubuntu (apt) and on Fedora (dnf). PySide6's wheels carry Qt itself.
PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
}
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start on X11 here: asked for by QT_QPA_PLATFORM, or its choice on a Linux X11 desktop."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0].split(";")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path:
    from PySide6.QtCore import QLibraryInfo  # QtCore itself needs no display libraries

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries the dynamic loader can't find for `plugin` and what it loads ([] if `ldd` is absent)."""
    ldd = shutil.which("ldd")
    if ldd is None or not plugin.is_file():
        return []
    listed = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, check=False).stdout
    return sorted(set(NOT_FOUND.findall(listed)))


def packages(missing: list[str], manager: int) -> list[str]:
    """The packages holding these libraries: `manager` 0 for apt, 1 for dnf."""
    return sorted({PACKAGES[name][manager] for name in missing if name in PACKAGES})


def install_message(missing: list[str]) -> str:
    """One line: what is missing and the apt and dnf commands that install it."""
    apt, dnf = packages(missing, 0), packages(missing, 1)
    unknown = [name for name in missing if name not in PACKAGES]
    how = (f"install them with `sudo apt-get install -y {' '.join(apt)}` (Debian, Ubuntu) or "
           f"`sudo dnf install -y {' '.join(dnf)}` (Fedora)") if apt else "install the packages that provide them"
    if apt and unknown:
        how += f", and the packages that provide {', '.join(unknown)}"
    return f"notellm: Qt's X11 platform plugin can't start: these system libraries are missing: {', '.join(missing)}; {how}"


def problem() -> str | None:
    """The message to show instead of starting Qt on X11, or None when nothing is missing (or X11 isn't used)."""
    if not uses_xcb():
        return None
    missing = missing_libraries(xcb_plugin())
    return install_message(missing) if missing else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notellm.app.xcb_check", description=__doc__.splitlines()[0])
    parser.add_argument("--apt-packages", action="store_true",
                        help="print the Debian packages holding the missing libraries (whether or not X11 is used here)")
    if parser.parse_args(argv).apt_packages:
        print(" ".join(packages(missing_libraries(xcb_plugin()), 0)))
        return 0
    message = problem()
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
