"""The configuration bundled as JSON: the YAML files' documents, parsed once at build time.

The YAML files stay the one source of truth: `ebb validate --bundle PATH` (run by the config
layer's build, `layers/config/Makefile`) writes the documents it parsed from them, in file and
document order, with the digest of the files they came from. A function then reads the JSON with
the standard library instead of importing PyYAML and parsing YAML at its cold start, and refuses
a bundle whose digest is not that of the YAML files beside it (a bundle left from other files).

JSON holds every value a Kubernetes manifest's YAML parses to except what PyYAML builds beyond
JSON's types (dates and timestamps, binary, non-string keys); a document with one is refused at
build time, so that the bundle always equals the YAML's parse.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from ebb.config.issues import ConfigValidationError, IssueLog
from ebb.config.raw_documents import RawDocument
from ebb.errors import ConfigError

BUNDLE_NAME = "config.json"
"""The bundle's file name, in the configuration directory beside the YAML files."""
BUNDLE_FORMAT = 1


def config_files(directory: Path) -> list[Path]:
    """The configuration's YAML files in `directory` (`*.yaml` and `*.yml`, not its subdirectories),
    in name order (the order they load in)."""
    found = [path for path in directory.iterdir() if path.suffix in (".yaml", ".yml") and path.is_file()]
    return sorted(found, key=lambda path: path.name)


def config_digest(files: list[Path]) -> str:
    """The configuration's version: a digest of the files' names and contents, in the given order."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def bundle_files(paths: list[Path]) -> str:
    """The bundle of the YAML files `paths` as JSON text, their documents in the order functions load them.

    The files load by name (`config_files`), so the bundle takes them in that order and their names
    must differ. Raises `ConfigError` when a file cannot be read or parsed, or a document holds a
    value JSON cannot carry unchanged.
    """
    # Only the build reads YAML here; the functions read the bundle (no PyYAML at their init).
    from ebb.config.yaml_documents import read_documents  # noqa: PLC0415

    files = sorted(paths, key=lambda path: path.name)
    names = [path.name for path in files]
    if len(set(names)) != len(names):
        raise ConfigError(f"files of the same name cannot be bundled together: {', '.join(map(str, files))}")
    log = IssueLog()
    documents: list[RawDocument] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot be read: {error}") from error
        documents += read_documents(text, str(path), log)
    if log.has_errors:
        raise ConfigValidationError(log.issues)
    by_path = {str(path): path.name for path in files}
    entries = []
    for document in documents:
        encoded = json.dumps(document.body, ensure_ascii=False, default=_not_json)
        if json.loads(encoded) != document.body:
            raise ConfigError(
                f"{document.file}: document {document.index} holds a value JSON cannot carry "
                "unchanged (a key that is not a string); quote it"
            )
        entries.append({"file": by_path[document.file], "index": document.index, "body": document.body})
    bundle = {"format": BUNDLE_FORMAT, "digest": config_digest(files), "documents": entries}
    return json.dumps(bundle, ensure_ascii=False, indent=1, default=_not_json) + "\n"


def _not_json(value: object) -> Any:
    raise ConfigError(
        f"a configuration value of type {type(value).__name__} ({value!r}) cannot be bundled as JSON; "
        "quote it so that YAML reads it as a string"
    )


def read_bundle(directory: Path, files: list[Path]) -> list[RawDocument] | None:
    """The bundled documents of `directory` (named by their YAML files' paths), or `None` if unbundled.

    Raises `ConfigError` when the bundle is unreadable or was built from other files than `files`.
    """
    path = directory / BUNDLE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        bundle = json.loads(text)
        stated = bundle["digest"] if bundle["format"] == BUNDLE_FORMAT else None
        entries = bundle["documents"]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path}: not a configuration bundle of format {BUNDLE_FORMAT}: {error}") from error
    if stated != config_digest(files):
        raise ConfigError(
            f"{path}: built from other files than the {len(files)} YAML file(s) beside it; "
            "rebuild it (`ebb validate --bundle`) or remove it"
        )
    return [
        RawDocument(file=str(directory / entry["file"]), index=entry["index"], body=entry["body"])
        for entry in entries
    ]
