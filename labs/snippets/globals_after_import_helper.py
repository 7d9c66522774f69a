"""A plain module whose global the parent changes at run time (globals_after_import lab).

The parent imports it, sets VALUE = "changed-by-parent" and names it in
set_forkserver_preload(). The question is what a child sees.
"""

VALUE = "import-time"
