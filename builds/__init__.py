"""The bundled builds of the taxonomies beside MSeg (one folder each, written by `unitax compile --bundled`
from taxonomies/<name>/; do not edit, edit the specs and recompile). unitax.bundled lists them."""
