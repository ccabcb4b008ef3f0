"""`notellm [VAULT]`: start the desktop app (first run: a welcome page; later: the last vault)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from notellm import __version__

from . import theme, xcb_check
from .main_window import MainWindow
from .settings import APPLICATION, ORGANIZATION, AppSettings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="notellm", description="Browse a Markdown vault with related notes and hashtag suggestions.")
    parser.add_argument("vault", nargs="?", help="folder of Markdown notes (default: the last one opened)")
    parser.add_argument("--theme", choices=["system", "light", "dark"], help="colour scheme (default: follow the system)")
    parser.add_argument("--version", action="version", version=f"notellm {__version__}")
    parser.add_argument("--quit-after-index", action="store_true",
                        help="open VAULT, bring its index up to date, then quit (exit code 1 on failure): a smoke test")
    return parser.parse_args(argv)


def create_window(vault: str | None = None, settings: QSettings | None = None, theme_mode: str | None = None) -> MainWindow:
    """Build the main window in a running QApplication and open `vault` (or the last one)."""
    app_settings = AppSettings(settings)
    mode = theme_mode or str(app_settings.value("view/theme", "system"))
    theme.apply_theme(QApplication.instance(), mode)
    target = vault or app_settings.last_vault
    if target and vault is None and not Path(target).is_dir():
        app_settings.forget_vault(target)  # the last vault has since been deleted or moved
        target = None
    window = MainWindow(app_settings, theme_mode=mode)
    window.setWindowIcon(theme.app_icon())
    if target:
        window.open_vault(str(Path(target).expanduser()))
    return window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing_libraries = xcb_check.problem()
    if missing_libraries:  # Qt would abort with a message that doesn't say which package to install
        print(missing_libraries, file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    QApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = create_window(args.vault, theme_mode=args.theme)
    window.show()
    if args.quit_after_index:
        if window.session is None:
            print("notellm: --quit-after-index needs a vault", file=sys.stderr)
            return 2
        window.session.indexFinished.connect(lambda summary: app.exit(0))
        window.session.failed.connect(lambda error: (print(f"notellm: {error}", file=sys.stderr), app.exit(1)))
    code = app.exec()
    window.save_window_state()
    if window.session is not None:
        window.session.close()  # stops indexing after the current batch
    window.worker.wait(30_000)  # let the worker finish that batch and close the index
    window.training.wait(30_000)  # closing the session stopped personalizing; let its trainer process end
    return code


if __name__ == "__main__":
    sys.exit(main())
