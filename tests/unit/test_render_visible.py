"""`render.visible`: the one gate for outside text on its way to a terminal (issue 20, item 11)."""

from __future__ import annotations

import pytest
from rich.console import Console

from sweep_cli.render import shown, visible


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("\x1b]52;c;SGk=\x07", "\\x1b]52;c;SGk=\\x07"),  # OSC 52: a clipboard write
        ("\x1b[2J", "\\x1b[2J"),  # clear the screen
        ("\x9b31m", "\\x9b31m"),  # C1 CSI: an escape sequence without ESC
        ("\x7f\x00\x08", "\\x7f\\x00\\x08"),
        ("a\u202eb\u2066c\u200f", "a\\u202eb\\u2066c\\u200f"),  # bidi overrides, isolates, marks
        ("x\ud800", "x\\ud800"),  # a lone surrogate, which a terminal's encoder refuses
        ("one\ntwo\tthree\r", "one\\ntwo\\tthree\\r"),
        ("[bold red]ok[/] äé 😀 ✓", "[bold red]ok[/] äé 😀 ✓"),  # markup and other text unchanged
    ],
)
def test_controls_are_shown_as_escapes(raw: str, seen: str) -> None:
    assert visible(raw) == seen


def test_a_block_keeps_its_lines_and_tabs_only() -> None:
    assert visible("a\n\tb\r\x1b", lines=True) == "a\n\tb\\r\\x1b"


def test_shown_text_is_never_read_as_markup() -> None:
    # GIVEN text with a closing tag that matches nothing, a style and a link
    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    # WHEN it is printed as `shown`
    console.print(shown("[/INST] [bold red]FAKE[/bold red] [link=https://evil.example]x[/link]"))
    # THEN no MarkupError, no style and no link: the text as written
    assert (
        console.export_text(styles=False).strip()
        == "[/INST] [bold red]FAKE[/bold red] [link=https://evil.example]x[/link]"
    )
    assert "\x1b]8" not in console.export_text(styles=True)
    assert "\x1b[1;31m" not in console.export_text(styles=True)
