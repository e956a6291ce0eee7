"""The example compiles; the stubs parse and cover the module."""

import ast
import pathlib
import py_compile

import claimsh

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent


def test_the_example_compiles():
    py_compile.compile(str(ROOT / "examples/python/segment.py"), doraise=True)


def test_the_stubs_name_every_public_method():
    tree = ast.parse((HERE.parent / "claimsh.pyi").read_text())
    stubs = {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    for cls in ["Ledger", "Claimed", "Item"]:
        public = {n for n in dir(getattr(claimsh, cls)) if not n.startswith("_")}
        properties = {"state_dir", "lease", "host"}
        assert public - properties <= stubs[cls], (cls, public - stubs[cls])
