"""Text a student copies: a code block and a link, each with a copy button that puts it on the clipboard.

An ``ipywidgets.Button`` runs in the kernel and cannot reach the browser's clipboard, and an HTML widget's
inline ``onclick`` depends on what the page's sanitizer keeps; these two small anywidgets carry their own
JavaScript. The copy uses ``navigator.clipboard`` where the page may use it (https, or the local machine)
and falls back on a hidden selection and ``document.execCommand("copy")`` (a class served over plain http);
a status line says whether it worked.

- :class:`CodeBlock`: ``value`` shown whole, in monospace (a tall scrolling box only past :data:`LONG_CODE` lines).
- :class:`LinkBox`: "Link to these settings": the page's address with ``query`` in place of its own query
  string (built in the browser, which knows the address), and ``note``, a line about the link.
"""

from __future__ import annotations

import anywidget
import traitlets

_COPY_JS = r"""
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {
      // refused (no permission, page not focused): try the old way
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.top = "0";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch (error) {
    done = false;
  }
  area.remove();
  return done;
}

function copyButton(label, text) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "lv-copy";
  button.textContent = label;
  const status = document.createElement("span");
  status.className = "lv-copy-status";
  status.setAttribute("role", "status");
  let timer = null;
  button.addEventListener("click", async () => {
    const done = await copyText(text());
    status.textContent = done ? "Copied." : "Could not copy: select the text and press Ctrl+C.";
    clearTimeout(timer);
    timer = setTimeout(() => { status.textContent = ""; }, 4000);
  });
  return [button, status];
}
"""

#: Past this many lines (a whole network's weights), the code scrolls in a box 80% of the window's height.
LONG_CODE = 200

_CODE_JS = _COPY_JS + f"const LONG = {LONG_CODE};\n" + r"""
function render({ model, el }) {
  el.classList.add("lv-codeblock");
  const bar = document.createElement("div");
  bar.className = "lv-code-bar";
  const [button, status] = copyButton("Copy the code", () => model.get("value"));
  bar.append(button, status);
  const pre = document.createElement("pre");
  pre.className = "lv-code";
  pre.tabIndex = 0;  // a long line scrolls sideways with the keyboard too
  pre.setAttribute("aria-label", "Python code");
  const code = document.createElement("code");
  pre.append(code);
  el.append(bar, pre);
  const show = () => {
    const text = model.get("value");
    code.textContent = text;
    el.hidden = !text;
    pre.classList.toggle("lv-code-long", text.split("\n").length > LONG);
  };
  model.on("change:value", show);
  show();
  return () => model.off("change:value", show);
}
export default { render };
"""

_LINK_JS = _COPY_JS + r"""
function render({ model, el }) {
  el.classList.add("lv-link");
  const line = document.createElement("div");
  line.className = "lv-link-line";
  const label = document.createElement("span");
  label.className = "lv-link-label";
  label.textContent = "Link to these settings:";
  const anchor = document.createElement("a");
  anchor.className = "lv-link-url";
  const [button, status] = copyButton("Copy link", () => anchor.href);
  line.append(label, anchor, button, status);
  const note = document.createElement("div");
  note.className = "lv-link-note";
  note.setAttribute("role", "status");
  el.append(line, note);
  const show = () => {
    const url = new URL(window.location.href);
    url.search = model.get("query");  // the page's own query (a token, say) is not handed out
    url.hash = "";
    anchor.href = url.href;
    anchor.textContent = url.href;
    note.textContent = model.get("note");
    note.hidden = !model.get("note");
  };
  model.on("change:query", show);
  model.on("change:note", show);
  show();
  return () => { model.off("change:query", show); model.off("change:note", show); };
}
export default { render };
"""

_CSS = r"""
.lv-codeblock { max-width: 1040px; }
.lv-codeblock .lv-code-bar { display: flex; align-items: center; gap: 10px; margin: 2px 0 6px; }
.lv-codeblock pre.lv-code {
  font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
  font-size: 13px; line-height: 1.45; white-space: pre; word-break: normal; overflow-wrap: normal; tab-size: 4;
  overflow-x: auto; overflow-y: visible; max-height: none; margin: 0; padding: 10px 12px;
  background: #f6f8fa; color: #1f2328; border: 1px solid #d0d7de; border-radius: 6px;
}
.lv-codeblock pre.lv-code.lv-code-long { max-height: 80vh; overflow-y: auto; }
.lv-codeblock pre.lv-code:focus-visible { outline: 2px solid #0b63c5; outline-offset: 1px; }
.lv-copy {
  font: 13px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
  padding: 3px 12px; color: #1f2328; background: #fff; border: 1px solid #8c959f; border-radius: 6px; cursor: pointer;
}
.lv-copy:hover { background: #f3f4f6; }
.lv-copy:focus-visible { outline: 2px solid #0b63c5; outline-offset: 1px; }
.lv-copy-status { font-size: 13px; color: #1a7f37; }
.lv-link { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #57606a;
           margin: 2px 0 4px; max-width: 1040px; }
.lv-link .lv-link-line { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.lv-link .lv-link-url { color: #0b63c5; word-break: break-all; }
.lv-link .lv-link-note { margin-top: 4px; padding: 4px 8px; color: #5c3c00; background: #fff8e1;
                         border-left: 4px solid #b35c00; }
"""


class CodeBlock(anywidget.AnyWidget):
    """``value`` shown as code: monospace, every line visible, with a "Copy the code" button. Empty: hidden."""

    _esm = _CODE_JS
    _css = _CSS
    value = traitlets.Unicode("").tag(sync=True)


class LinkBox(anywidget.AnyWidget):
    """"Link to these settings": the page's address with ``query`` (``"?stride=2"``, or ``""``), a copy button,
    and ``note`` under it (empty: no note)."""

    _esm = _LINK_JS
    _css = _CSS
    query = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
