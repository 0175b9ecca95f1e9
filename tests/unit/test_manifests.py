"""Reading manifests: files, folders, multi-document YAML, Lists, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.manifests import ManifestError, load_manifests


def test_multi_document_files_and_folders_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("kind: B\n---\n---\nkind: C\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text("kind: A\n")
    (tmp_path / "z.json").write_text('{"kind": "Z"}')
    (tmp_path / "notes.txt").write_text("ignored")
    kinds = [o["kind"] for o in load_manifests([tmp_path])]
    assert kinds == ["B", "C", "A", "Z"]


def test_lists_are_expanded(tmp_path: Path) -> None:
    (tmp_path / "l.yaml").write_text("kind: List\nitems:\n- kind: A\n- kind: B\n")
    assert [o["kind"] for o in load_manifests([tmp_path / "l.yaml"])] == ["A", "B"]


def test_several_paths_keep_their_order(tmp_path: Path) -> None:
    (tmp_path / "1.yaml").write_text("kind: One\n")
    (tmp_path / "2.yaml").write_text("kind: Two\n")
    objects = load_manifests([tmp_path / "2.yaml", tmp_path / "1.yaml"])
    assert [o["kind"] for o in objects] == ["Two", "One"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("kind: [", "not valid YAML"),
        ("42\n", "document 1: not a Kubernetes object"),
        ("kind: A\n---\nname: no-kind\n", "document 2: not a Kubernetes object"),
        ("kind: List\nitems: nope\n", "items of a List must be a list"),
        ("kind: List\nitems: [1]\n", "item 0: not a Kubernetes object"),
    ],
)
def test_bad_content_names_the_file(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    with pytest.raises(ManifestError, match=r"bad\.yaml") as exc:
        load_manifests([tmp_path / "bad.yaml"])
    assert fragment in str(exc.value)


def test_empty_folder_and_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no \.yaml"):
        load_manifests([tmp_path])
    (tmp_path / "x.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifests([tmp_path / "x.yaml"])
