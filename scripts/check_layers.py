"""The apps import one way, like the floors of a house: each may use the floors below it and
never one above. This reads every import of the project's code, at any depth (one inside a
function counts), and fails on any that runs upward, so no circle between apps can form.
An import inside a function is allowed only in an app's ``apps.py`` (its ``ready()`` must
wait for the models); anywhere else it would only hide a circle or a slow start.

    python scripts/check_layers.py        # prints the floors, exits 1 on a violation
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# From the top floor down.
LAYERS = (
    "marketplace",  # the pages and the data that bring the apps together
    "requests_app",
    "payments",
    "payouts",  # coaches' payouts: the balance, Stripe Connect, payouts by hand
    "sessions_app",
    "messaging",  # conversations between a client and a coach
    "ledger",
    "coaching",
    "accounts",
    "hse",  # what every app uses: settings, the outbox, the cache, money, state machines
)
# Apart from the house: the local Stripe stand-in imports none of it and nothing imports it.
APART = ("stripe_standin",)


def _imports(tree: ast.AST):
    """(line, module, inside a function?) for every import in ``tree``."""
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def violations(root: Path = ROOT) -> list[str]:
    apps = (*LAYERS, *APART)
    problems = []
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = path.relative_to(root)
            for line, module, in_function in _imports(ast.parse(path.read_text())):
                target = module.split(".")[0]
                if target not in apps:
                    continue
                if in_function and path.name != "apps.py":
                    problems.append(f"{name}:{line}: {module} is imported inside a function")
                if target == app:
                    continue
                if app in APART or target in APART:
                    problems.append(f"{name}:{line}: {module}: {APART[0]} stands apart")
                elif LAYERS.index(target) < LAYERS.index(app):
                    problems.append(f"{name}:{line}: {app} imports {module}, a floor above it")
    return problems


def main() -> int:
    print("floors, top down: " + " → ".join(LAYERS))
    problems = violations()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import(s) against the floors", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
