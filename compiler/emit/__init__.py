"""The emitters: a validated model -> the bytes of generated/ (``tables``: NumPy tables and the
manifest; ``docs``: the HTML/Markdown site and legends; ``coverage``: the coverage page and SVG;
``sheets``: TSV/CSV/XLSX)."""
