// The player's button icons (SVG paths on a 16 x 16 box).

const ICONS = {
  first: '<path d="M4 3h2v10H4zM13 3v10L6.5 8z"/>',
  back: '<path d="M12 3v10L5 8z"/>',
  play: '<path d="M4 2.5v11L13.5 8z"/>',
  pause: '<path d="M4 3h3v10H4zM9 3h3v10H9z"/>',
  forward: '<path d="M4 3v10l7-5z"/>',
  last: '<path d="M10 3h2v10h-2zM3 3v10l6.5-5z"/>',
};

/** The markup of icon `name` (first, back, play, pause, forward, last), in the text's colour. */
export function svgIcon(name) {
  return `<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false" fill="currentColor">${ICONS[name]}</svg>`;
}
