#!/usr/bin/env bash
# Checks deploy/containers/Containerfile against the tree, without building
# (CI packages prebuilt binaries, so its compile stage runs only on
# operators' machines; this catches what would break it there):
#   - the compile stage copies every directory the top-level CMakeLists.txt
#     adds (a new one left out fails `cmake -S /src` in the image), and
#     .containerignore excludes none of them;
#   - it builds each service's executable target and copies the binary
#     from where that target's CMakeLists.txt puts it;
#   - every file the build stage installs from the context exists.
# Exits non-zero with one line per problem.
#
#   deploy/containers/check.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

python3 - "$repo" <<'EOF'
import fnmatch, os, re, sys

repo = sys.argv[1]
cf = open(os.path.join(repo, "deploy/containers/Containerfile")).read()
cmake = open(os.path.join(repo, "CMakeLists.txt")).read()
ignore = [l.strip() for l in open(os.path.join(repo, ".containerignore"))
          if l.strip() and not l.startswith("#")]
problems = []

# Stages: name -> body text.
stages, name = {}, None
for line in cf.splitlines():
    m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
    if m:
        name = (m.group(1) or "").lower()
        stages[name] = ""
    elif name is not None:
        stages[name] += line + "\n"
for needed in ("toolchain", "compile", "build"):
    if needed not in stages:
        problems.append(f"Containerfile: no stage named {needed}")
compile_stage = stages.get("compile", "")
build_stage = stages.get("build", "")

copied = set()
for m in re.finditer(r"^COPY\s+(?!--from)(\S+)\s+\S+", compile_stage, re.M):
    copied.add(m.group(1).rstrip("/"))
if "CMakeLists.txt" not in copied:
    problems.append("Containerfile compile stage: CMakeLists.txt not copied")

# Directories the build configures: unconditional add_subdirectory() calls
# (fuzz/ is behind REBOUND_FUZZ, off in the image).
depth, dirs = 0, []
for line in cmake.splitlines():
    code = line.split("#", 1)[0]
    if re.match(r"\s*if\s*\(", code):
        depth += 1
    elif re.match(r"\s*endif\s*\(", code):
        depth -= 1
    m = re.match(r"\s*add_subdirectory\s*\(\s*([^\s)]+)", code)
    if m and depth == 0:
        dirs.append(m.group(1))
for d in dirs:
    top = d.split("/")[0]
    if top not in copied:
        problems.append(f"Containerfile compile stage: {top}/ (add_subdirectory({d})) not copied")
    for pat in ignore:
        if fnmatch.fnmatch(top, pat) or fnmatch.fnmatch(d, pat):
            problems.append(f".containerignore: '{pat}' excludes {d}/, which the build needs")

for svc in ("ingest", "scoring", "notify"):
    target = f"rebound-{svc}"
    lists = open(os.path.join(repo, f"services/{svc}/CMakeLists.txt")).read()
    if not re.search(rf"add_executable\s*\(\s*{target}\b", lists):
        problems.append(f"services/{svc}/CMakeLists.txt: no executable {target}")
    if not re.search(rf"--target\b[^\n]*\b{target}\b", compile_stage):
        problems.append(f"Containerfile compile stage: does not build {target}")
    if f"/build/services/{svc}/{target}" not in compile_stage:
        problems.append(f"Containerfile compile stage: does not copy /build/services/{svc}/{target}")

m = re.search(r"^COPY\s+(?!--from)(\S+)\s+(\S+)", build_stage, re.M)
src, dst = (m.group(1), m.group(2).rstrip("/")) if m else (None, None)
for f in re.findall(r"install -m 0644 (\S+)", build_stage):
    if src is None or not f.startswith(dst + "/"):
        problems.append(f"Containerfile build stage: {f} is not from a COPY of the context")
    elif not os.path.isfile(os.path.join(repo, src, f[len(dst) + 1:])):
        problems.append(f"Containerfile build stage: {src}/{f[len(dst) + 1:]} does not exist")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"Containerfile: copies {', '.join(sorted(copied))}; builds the three services")
EOF
