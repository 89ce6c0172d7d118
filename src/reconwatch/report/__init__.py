"""What a hunt hands on: cases.json (``casejson``), the terminal (``console``), HTML reports.

``SCHEMA`` lives here rather than in ``casejson`` so that readers of the
document (the exporters) can check it without loading the case builder.
"""

from typing import Final

#: The cases document's schema id (docs/cases-json.md); bump it on any incompatible change.
SCHEMA: Final = "reconwatch.cases/1"
