"""The kernel a course page runs in: ipykernel without its debugger.

``deploy/share/jupyter/kernels/python3/kernel.json`` names this module as the ``python3`` kernel wherever the
course is served (every deployment puts ``deploy/share/jupyter`` on ``JUPYTER_PATH``, for the template):

    python -m layerviz.kernel -f {connection_file}

ipykernel imports debugpy when it starts a kernel, for the debugger of JupyterLab's sidebar, whether anyone
debugs or not: about 0.13 s of CPU in every kernel, a fifth of the landing page's whole kernel. A Voilà page
shows no code to debug, so this kernel makes debugpy unimportable before ipykernel starts (ipykernel then
starts without a debugger, as it does where debugpy is not installed) and is otherwise ipykernel itself.
A notebook opened in JupyterLab outside the course's ``JUPYTER_PATH`` gets the usual kernel, debugger and all.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Start ipykernel (its command line: ``-f connection_file``) with debugpy kept out."""
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # import debugpy now raises ImportError
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
