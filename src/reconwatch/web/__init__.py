"""The analyst web UI (``reconwatch serve``): FastAPI, Jinja2 and HTMX over the case store.

Needs the ``web`` extra (``pip install 'reconwatch[web]'``). Importing this
package imports nothing from it: ``reconwatch.cli`` registers the commands in
:mod:`reconwatch.web.cli`, which import FastAPI only when they run.
"""
