"""Every rule id of unitax in one registry: id -> stage, severity, one-line description.

A Problem's ``[rule-id]`` names one entry here; ids are unique across the project (one id, one
meaning, whichever stage reports it). The stages' reporters accept only registered ids, the
test corpus folders are named after them, ``unitax rules`` prints the table and
tests/test_registry.py checks that every id the code emits is registered and documented.

Severity is ``error``, ``warning``, or ``either`` (the rule reports both, depending on what it
finds). ``schema-<keyword>`` is one entry standing for every JSON Schema keyword (``schema-type``,
``schema-enum``, ...): the message says what the keyword wanted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One registered rule."""

    id: str
    stage: str  # load, schema, rules, relabel, analysis, output, import
    severity: str  # error, warning, either
    description: str


#: the stages, in the order a run meets them
STAGES = ("load", "schema", "rules", "relabel", "analysis", "output", "import")

#: the id that stands for every JSON Schema keyword
SCHEMA_FAMILY = "schema-<keyword>"

_TABLE: tuple[tuple[str, str, str, str], ...] = (
    # ----- load: files and YAML (compiler/load.py) ------------------------------------------
    ("missing-file", "load", "error", "a required spec file or folder is missing (or a file a spec names)"),
    ("not-a-file", "load", "error", "a spec path is not a regular file (a FIFO, device, socket, folder)"),
    ("not-a-folder", "load", "error", "datasets/, mappings/ or relabel/ is not a folder"),
    ("symlink-outside", "load", "error", "a link leads outside the spec folder, or nowhere"),
    ("symlink-loop", "load", "error", "a link leads back to itself"),
    ("unreadable", "load", "error", "a spec file or folder cannot be read"),
    ("file-too-large", "load", "error", "a spec file is larger than a spec may be"),
    ("duplicate-file", "load", "error",
     "two files name one spec (by .yml/.yaml extension, case or Unicode normalisation)"),
    ("stray-file", "load", "warning", "a file in a spec folder that is not a spec, so it is not read"),
    ("encoding", "load", "error", "a file is not UTF-8 text, or holds characters YAML does not allow"),
    ("empty-file", "load", "error", "a spec file is empty or holds no YAML document"),
    ("yaml-syntax", "load", "error", "a YAML syntax error"),
    ("yaml-tab", "load", "error", "a tab used for indentation"),
    ("yaml-tag", "load", "error", "a YAML tag (!!python/..., !custom) in a spec"),
    ("yaml-alias", "load", "error", "a YAML anchor, alias or merge key in a spec"),
    ("yaml-key", "load", "error", "a mapping key that is not a plain scalar"),
    ("yaml-too-large", "load", "error", "more YAML nodes than a spec may hold"),
    ("yaml-too-deep", "load", "error", "YAML nested deeper than a spec may be"),
    ("yaml11", "load", "error", "a plain value that YAML 1.1 and YAML 1.2 read differently (yes, no, on, 0o7)"),
    ("duplicate-key", "load", "error", "a key is given twice in one YAML mapping"),
    # ----- schema: structure (compiler/schema.py, compiler/schemas/) -------------------------
    ("unknown-field", "schema", "error", "a key the schema does not know (with the closest known one)"),
    ("missing-field", "schema", "error", "a key the schema requires is missing"),
    (SCHEMA_FAMILY, "schema", "error",
     "a value breaks a JSON Schema keyword (schema-type, schema-enum, schema-pattern, schema-minimum, ...)"),
    # ----- rules: meaning (compiler/rules.py) ------------------------------------------------
    ("file-name", "rules", "error",
     "a dataset file is named after its dataset, a mapping file <source>_to_<target>.yaml"),
    ("duplicate-dataset", "rules", "error", "two files declare the same dataset"),
    ("duplicate-id", "rules", "error", "two classes of one label space share an id"),
    ("id-order", "rules", "error", "ids are contiguous from 0 and listed in id order"),
    ("id-range", "rules", "error", "ids fit the label dtype and never equal the ignore id"),
    ("duplicate-name", "rules", "error", "two classes of one label space share a name"),
    ("name-clash", "rules", "error",
     "two class names differ only by case, white space, Unicode normalisation or look-alike characters"),
    ("suspicious-name", "rules", "error",
     "a class name holds characters that do not show, is not NFC, or mixes look-alikes into Latin"),
    ("duplicate-color", "rules", "either",
     "two classes share a colour: an error for universal classes, a warning for a dataset's"),
    ("unknown-dataset", "rules", "error", "a mapping names a dataset that is not declared"),
    ("unknown-class", "rules", "error", "a mapping names a class its label space does not have"),
    ("mapped-twice", "rules", "error", "a source class is both mapped and ignored"),
    ("unmapped-class", "rules", "error", "a source class is neither mapped nor ignored"),
    ("undecided-target", "rules", "error", "a target class is neither fed by a source class nor listed in unfed"),
    ("fed-unfed", "rules", "error", "a target class listed in unfed is fed by a source class"),
    ("missing-mapping", "rules", "error",
     "a train dataset has no mapping to universal, or a test dataset none from it"),
    ("cycle", "rules", "error", "dataset-to-dataset remaps form a cycle"),
    ("self-mapping", "rules", "error", "a mapping's source and target are the same"),
    ("empty-definition", "rules", "warning", "a universal class has no definition"),
    ("draft-entry", "rules", "error",
     "a mapping line suggested by `unitax new-dataset` that no person has confirmed yet"),
    ("unfed-stale", "rules", "error",
     "unfed says all_others as of N target classes, but a later target class is neither fed nor decided"),
    ("accept-stale", "rules", "warning", "an accept: entry of a spec matches no warning any more"),
    ("union-in-one-to-one", "rules", "error",
     "a one-to-one mapping sends a source class to a list of classes (declare kind: union)"),
    ("union-target", "rules", "error", "a union mapping must map a train dataset to universal"),
    ("empty-set", "rules", "error", "a union mapping sends a source class to an empty list"),
    ("duplicate-in-set", "rules", "warning", "a union mapping names a class twice in one set (the set is the same)"),
    ("unlisted-class", "rules", "warning",
     "a published mapping does not mention a source class (listed under unlisted by an importer; compiled as ignored)"),
    ("stray-entry", "rules", "warning",
     "a published mapping names a source class the dataset does not have (kept under stray; never compiled)"),
    ("unknown-unscored", "rules", "warning", "a dataset's unscored list names a class the dataset does not have"),
    ("same-classes", "rules", "error",
     "a dataset's same_classes_as does not hold: a class without a partner by id or name (list it under unpaired), "
     "a class of the other space without one, or an unknown space (the compiler in one spec root; check --bundled "
     "across bundled taxonomies)"),
    ("overlapping-sets", "rules", "error",
     "two source classes of a union mapping cover overlapping sets and neither says why in overlap_reason"),
    ("union-relabel", "rules", "error",
     "a relabel record moves segments of a class to a universal class outside that class's union"),
    # ----- relabel: relabel records (compiler/rules_relabel.py) ------------------------------
    ("relabel-file-name", "relabel", "error", "a relabel file is named after the dataset it relabels"),
    ("relabel-unknown-dataset", "relabel", "error", "a relabel file names a dataset that is not declared"),
    ("unknown-alias", "relabel", "error",
     "a record names a dataset that is neither its file's dataset nor one of its aliases"),
    ("alias-conflict", "relabel", "error",
     "an alias is the name of a label space itself, or names a declared dataset not remapped into this one"),
    ("relabel-unknown-class", "relabel", "error", "a record's from or to is not a universal class"),
    ("class-not-in-dataset", "relabel", "error",
     "a record's from or to is a universal class that the dataset does not have"),
    ("segment-file", "relabel", "error",
     "a record's segment file is missing, unreadable, outside its folder, or named twice"),
    ("stray-segment-file", "relabel", "error", "a segment file under relabel/ that no record names"),
    ("segment-syntax", "relabel", "error", "a line of a segment file is not '<image key>\\t<segment id>'"),
    ("empty-segment-list", "relabel", "error", "a segment file lists no segment"),
    ("segment-twice", "relabel", "error", "a segment is moved by more than one record (or listed twice)"),
    # ----- analysis: facts of the whole taxonomy (compiler/analysis.py), warnings only ----------
    ("composition", "analysis", "warning",
     "dataset -> universal -> test is not the identity for a train/test pair with the same label set"),
    ("unsupervised-class", "analysis", "warning", "no train dataset maps a class to this universal class"),
    ("unused-class", "analysis", "warning", "no test dataset's mapping from universal reads this universal class"),
    ("remap-conflict", "analysis", "warning",
     "a class reaches different universal classes directly and through a remap"),
    # ----- output: the compiled folder (`unitax check`) --------------------------------------
    ("stale-output", "output", "error",
     "a compiled file differs from what the specs compile to (changed, missing, extra)"),
    ("interrupted-compile", "output", "error",
     "a temporary build folder left beside the output by an interrupted compile"),
    ("output-not-a-folder", "output", "error", "the output path is not a folder"),
    ("shared-space", "output", "error",
     "two bundled taxonomies declare a label space of one name with other class names or ids (check --bundled)"),
    # ----- import: reading MSeg's, UT's and RVC's published files (tools/authoring/importer.py, relabel_import.py,
    # ut_import.py, rvc_import.py) -------------------------------------------------------------------------------
    ("reference-format", "import", "error",
     "a published file (MSeg's names lists, master sheet, relabel lists; UT's .py files; RVC's sheet and "
     "label definitions) is not in the expected format"),
    ("import-unions", "import", "error",
     "`unitax import-unions` cannot derive a union variant (not a train dataset, no relabel records)"),
)

REGISTRY: dict[str, Rule] = {r[0]: Rule(*r) for r in _TABLE}


def lookup(rule_id: str) -> Rule | None:
    """The registered rule of an id (``schema-type`` -> the ``schema-<keyword>`` entry), or None."""
    if rule_id in REGISTRY:
        return REGISTRY[rule_id]
    if rule_id.startswith("schema-") and rule_id.count("-") == 1 and rule_id[7:].isalpha():
        return REGISTRY[SCHEMA_FAMILY]
    return None


def is_registered(rule_id: str) -> bool:
    return lookup(rule_id) is not None


def of_stage(stage: str) -> dict[str, str]:
    """id -> description of one stage's rules (what a stage's reporter accepts)."""
    return {r.id: r.description for r in REGISTRY.values() if r.stage == stage}


def table() -> str:
    """The registry as aligned text lines: id, stage, severity, description (``unitax rules``)."""
    width = max(len(r.id) for r in REGISTRY.values())
    return "\n".join(f"{r.id:<{width}}  {r.stage:<8}  {r.severity:<7}  {r.description}"
                     for stage in STAGES for r in REGISTRY.values() if r.stage == stage)
