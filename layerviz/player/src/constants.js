// The measures every part of the player shares (CSS px unless said otherwise). Layout and drawing read the same
// numbers, so a panel is drawn where it was laid out; a constant used by one module only lives in that module.

export const PAD = 12; // canvas margin
export const TITLE_H = 26; // panel title line
export const LABEL_H = 17; // slice label line
export const COLLAB_H = 15; // a line of column labels (a grid's col_labels)
export const ROWLAB_GAP = 4; // between row labels and their row
export const NOTE_H = 17; // a panel's own colour scale, written under it
export const ROW_GAP = 14; // between rows of panels (a scene too wide for one row is wrapped)
export const SLICE_GAP = 10; // between stacked slices
export const HL_M = 4; // margin around a panel's grids, room for highlight outlines
export const OP_W = 52; // room for an operator between panels
export const GAP_W = 28; // between panels without operator
export const LEGEND_GAP = 14;
export const LEGEND_LINE_H = 36; // a line of the legend: the colour bar and its ticks, or the key of outlines
export const MAX_W = 1000; // widest canvas
export const MAX_W_PRESENTER = 1880; // widest canvas in presenter mode (a projector)
export const MAX_GRID_H = 440; // tallest panel before cells shrink (fits 1280x720)
export const MAX_SCENE_H = 560; // panels wrapped into rows (to print their numbers) stay within this height
export const SLICE_GAP_X = 12; // between columns of slices
export const CMIN = 4; // smallest cell
export const CMAX = 40; // largest cell
export const MIN_ROW_CELL = 6; // a row of panels whose cells would be smaller than this is wrapped into rows
export const SMALL_PANEL_W = 112; // small panels (e.g. a 3x3 kernel) are drawn at least this wide
export const NUM_MIN_CELL = 22; // print numbers in cells at least this big
export const GBOX_W = 96; // a graph's box (GraphLayout): width
export const GBOX_H = 36; // and height
export const GCOL_GAP = 60; // least room between two columns of boxes: an arrow and its shape
export const GCOL_MAX = 120; // most room between two columns (a small graph is not spread over the whole width)
export const GROW_GAP = 22; // between two rows of boxes
export const GSIDE = 18; // left and right of a graph's bands: the arrows going from a band to the next
export const GBAND_GAP = 30; // between two bands of columns (a graph too wide is wrapped)
export const GLABEL_SHIFT = 130; // arrows from a band to the next: each row's shape written this much further right
export const GNOTE_H = 18; // the note under a graph
export const FLOW_GRID_H = 300; // tallest panel of a set of panels shown on some frames only (a flow's preview)
export const FLOW_TITLE_W = 140; // a flow's set of panels: a title asks for its share of the width, at least this
export const PRESENTER_SCALE = 1.4; // presenter mode: text and cells this much larger

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif';
export const EMPTY_FILL = "#fbfbfb";
export const EMPTY_EDGE = "#d5d5d5";
export const PAD_FILL = "#dedede";
export const PAD_HATCH = "#b4b4b4";
