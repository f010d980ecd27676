"""Browser player of a :class:`~layerviz.scene.Scene` (an anywidget)."""

from layerviz.player.widget import Player, encode_scene

__all__ = ["Player", "encode_scene"]
