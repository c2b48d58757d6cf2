"""Read agreement and addendum YAML files, keeping the line of every key.

Every problem is reported as `berkas:baris kunci: pesan`, and a batch of files is all or
nothing: one bad file means none is loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from simpul.agreements.checks import (
    DocumentInvalid,
    Issue,
    Loc,
    format_loc,
    validate_addendum,
    validate_agreement,
)
from simpul.agreements.schemas import AddendumDocument, AgreementDocument
from simpul.errors import InvalidInput

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FileIssue:
    path: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where} {self.key}: {self.message}"


class AgreementFileError(InvalidInput):
    """One or more files are malformed; nothing was loaded."""

    def __init__(self, issues: list[FileIssue]) -> None:
        lines = [str(i) for i in issues]
        super().__init__(
            "berkas_perjanjian_tidak_sah",
            "Berkas perjanjian tidak sah; tidak ada yang dimuat.\n" + "\n".join(lines),
            galat=lines,
        )
        self.issues = issues


@dataclass
class YamlSource:
    """A parsed YAML file: its data, its sha256 and the line of each key or list item."""

    path: Path
    sha256: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[int | None, str]:
        """Line and display key for a problem location.

        Segments that are not in the data (a union's tag) are skipped; a last segment that is
        not there is a missing key, reported at its parent's line.
        """
        node = self.data
        matched: Loc = ()
        trailing: Loc = ()
        for i, part in enumerate(loc):
            in_map = isinstance(node, dict) and isinstance(part, str) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if in_map or in_list:
                node, matched = node[part], (*matched, part)
            elif i == len(loc) - 1:
                trailing = (part,)
        probe: Loc = matched
        while probe not in self.lines and probe:
            probe = probe[:-1]
        return self.lines.get(probe), format_loc((*matched, *trailing))

    def issue(self, issue: Issue) -> FileIssue:
        line, key = self.locate(issue.loc)
        return FileIssue(str(self.path), line, key, issue.message)

    def error(self, exc: DocumentInvalid) -> AgreementFileError:
        return AgreementFileError([self.issue(i) for i in exc.issues])


@dataclass(frozen=True)
class LoadedAgreement:
    document: AgreementDocument
    source: YamlSource


@dataclass(frozen=True)
class LoadedAddendum:
    document: AddendumDocument
    source: YamlSource


def _fail(path: Path, line: int | None, key: str, message: str) -> AgreementFileError:
    return AgreementFileError([FileIssue(str(path), line, key, message)])


def read_yaml(path: Path) -> YamlSource:
    """Parse one file. Syntax errors, duplicate keys and an empty file are errors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(path, None, "(berkas)", f"tidak dapat dibaca: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, None, "(berkas)", "bukan teks UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _fail(path, None, "(berkas)", "berkas kosong")
        source = YamlSource(path, hashlib.sha256(raw).hexdigest(), None)
        problems: list[FileIssue] = []
        source.data = _convert(loader, node, (), source, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _fail(path, line, "(sintaks)", f"galat sintaks YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(path, None, "(sintaks)", f"galat sintaks YAML: {exc}") from None
    finally:
        loader.dispose()
    if problems:
        raise AgreementFileError(problems)
    if not isinstance(source.data, dict):
        raise _fail(path, 1, "(dokumen)", "dokumen harus berupa pemetaan (kunci: nilai)")
    return source


def _convert(
    loader: yaml.SafeLoader, node: Node, loc: Loc, source: YamlSource, problems: list[FileIssue]
) -> Any:
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                problems.append(
                    FileIssue(
                        str(source.path),
                        key_node.start_mark.line + 1,
                        format_loc(loc),
                        "kunci harus berupa teks",
                    )
                )
                continue
            key = str(key_node.value)
            here = (*loc, key)
            if key in out:
                problems.append(
                    FileIssue(
                        str(source.path),
                        key_node.start_mark.line + 1,
                        format_loc(here),
                        "kunci ganda",
                    )
                )
            source.lines[here] = key_node.start_mark.line + 1
            out[key] = _convert(loader, value_node, here, source, problems)
        return out
    if isinstance(node, SequenceNode):
        return [
            _convert(loader, item, (*loc, i), source, problems) for i, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, yaml.constructor.ConstructorError):
        # e.g. 2024-02-30 looks like a date but is not one: keep the text so that the schema
        # reports it against its key.
        return str(node.value)


def _is_addendum(data: dict[str, Any]) -> bool:
    return "perjanjian" in data or "adendum" in data


def parse_agreement(source: YamlSource) -> LoadedAgreement:
    try:
        return LoadedAgreement(validate_agreement(source.data), source)
    except DocumentInvalid as exc:
        raise source.error(exc) from None


def parse_addendum(source: YamlSource) -> LoadedAddendum:
    try:
        return LoadedAddendum(validate_addendum(source.data), source)
    except DocumentInvalid as exc:
        raise source.error(exc) from None


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders become their *.yaml / *.yml files in name order."""
    out: list[Path] = []
    missing: list[FileIssue] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES))
        elif path.is_file():
            out.append(path)
        else:
            missing.append(FileIssue(str(path), None, "(berkas)", "tidak ditemukan"))
    if missing:
        raise AgreementFileError(missing)
    return out


def read_documents(
    paths: Iterable[Path],
) -> tuple[list[LoadedAgreement], list[LoadedAddendum]]:
    """Parse and check every file; all problems of all files are raised together."""
    agreements: list[LoadedAgreement] = []
    addenda: list[LoadedAddendum] = []
    problems: list[FileIssue] = []
    for path in expand_paths(paths):
        try:
            source = read_yaml(path)
            if _is_addendum(source.data):
                addenda.append(parse_addendum(source))
            else:
                agreements.append(parse_agreement(source))
        except AgreementFileError as exc:
            problems.extend(exc.issues)
    seen: dict[str, str] = {}
    for item in agreements:
        doc_id, where = item.document.id, str(item.source.path)
        if doc_id in seen:
            problems.append(
                FileIssue(
                    where,
                    item.source.lines.get(("id",)),
                    "id",
                    f"id {doc_id!r} juga dipakai oleh {seen[doc_id]}",
                )
            )
        seen[doc_id] = where
    if problems:
        raise AgreementFileError(problems)
    return agreements, addenda


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("simpul.agreements") / name))


def seed_dir() -> Path:
    """The four shipped PKS."""
    return _package_dir("seed")


def demo_dir() -> Path:
    """Demo extension addenda (not official documents)."""
    return _package_dir("demo")
