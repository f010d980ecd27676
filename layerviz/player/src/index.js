// The module anywidget loads (bundled by esbuild into layerviz/player/player.bundle.js): the player's render.

import { render } from "./player.js";

export default { render };
