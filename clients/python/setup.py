"""Generates the rebound.v1 stubs from the project's protos at build time.

The protos are read from ../../proto (a build from the repository, as
`pip install clients/python` does) or from $REBOUND_PROTO_DIR. The generated
package `rebound.v1` goes into the build tree only, so it is in the wheel but
never in the source tree.
"""

import os
from importlib import resources
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def proto_dir() -> Path:
    given = os.environ.get("REBOUND_PROTO_DIR")
    path = Path(given) if given else HERE.parent.parent / "proto"
    if not (path / "rebound" / "v1").is_dir():
        raise SystemExit(
            f"rebound-client: no protos at {path} (build from the repository, "
            "or set REBOUND_PROTO_DIR to its proto/ directory)"
        )
    return path


class BuildWithStubs(build_py):
    def run(self) -> None:
        super().run()
        from grpc_tools import protoc

        protos = proto_dir()
        out = Path(self.build_lib)
        files = sorted(str(p) for p in (protos / "rebound" / "v1").glob("*.proto"))
        well_known = resources.files("grpc_tools") / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{protos}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *files,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("rebound-client: protoc failed on " + " ".join(files))
        for package in (out / "rebound", out / "rebound" / "v1"):
            (package / "__init__.py").touch()
        # The .pyi stubs are for type checkers: mark the package typed.
        (out / "rebound" / "py.typed").touch()


setup(cmdclass={"build_py": BuildWithStubs})
