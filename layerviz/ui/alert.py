"""How an explorer says that its settings do not work, and that the pictures under it are out of date.

:func:`alert_html` is the message: a red box with an icon and ``role="alert"`` (a screen reader reads it
out at once). While it shows, the explorer carries the CSS class :data:`STALE` if it still shows the
pictures of the previous settings: :data:`EXPLORER_STYLE` greys out the summary, the player, the check and
the code, and the alert says they belong to the previous settings. A setting that works clears both.
"""

from __future__ import annotations

import html

#: The explorer's class while its pictures are those of the previous, valid settings.
STALE = "layerviz-stale"

#: What the alert adds when the explorer still shows the previous settings' pictures.
STALE_NOTE = ("The animation, the check and the code below are still those of the previous settings "
              "(greyed out) until the settings work again.")

#: The explorer's styles, shown once per explorer in a hidden HTML widget (a style element applies to the page).
EXPLORER_STYLE = f"""
<style>
.layerviz-explorer .layerviz-alert {{
  display: flex; gap: 10px; align-items: flex-start; max-width: 1016px; margin: 6px 0; padding: 10px 12px;
  color: #5f1410; background: #fdecea; border: 1px solid #d93025; border-left: 6px solid #b3261e; border-radius: 6px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
}}
.layerviz-explorer .layerviz-alert-icon {{ font-size: 22px; line-height: 1; color: #b3261e; }}
.layerviz-explorer .layerviz-alert-message {{ font-weight: 600; white-space: normal; }}
.layerviz-explorer .layerviz-alert-stale {{ margin-top: 2px; font-weight: 400; }}
.layerviz-explorer.{STALE} .layerviz-summary,
.layerviz-explorer.{STALE} .layerviz-player,
.layerviz-explorer.{STALE} .layerviz-check,
.layerviz-explorer.{STALE} .layerviz-code {{
  opacity: 0.4; filter: grayscale(1); transition: opacity 0.2s;
}}
</style>
"""


def alert_html(message: str, stale: bool) -> str:
    """The alert for ``message``; ``stale``: the pictures below are still the previous settings'."""
    note = f'<div class="layerviz-alert-stale">{STALE_NOTE}</div>' if stale else ""
    return (f'<div role="alert" class="layerviz-alert"><span class="layerviz-alert-icon" aria-hidden="true">⚠</span>'
            f'<div><div class="layerviz-alert-message">{html.escape(message)}</div>{note}</div></div>')
