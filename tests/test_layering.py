"""Lower layers never import higher ones (every import statement, module level or inside functions,
parsed with ``ast``), and the data package has no import cycle between its modules."""
import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(REPO, "mvlpt")

#: bottom → top; a module may import its own layer and the layers below it
LAYERS = [
    ("mvlpt", "mvlpt.errors", "mvlpt.registry", "mvlpt.utils", "mvlpt.safeload"),
    ("mvlpt.clip",),
    ("mvlpt.prompts",),
    ("mvlpt.data",),
    ("mvlpt.config",),
    ("mvlpt.engine",),
    ("mvlpt.trainers",),
    ("mvlpt.launch", "mvlpt.results", "mvlpt.estimate"),
    ("mvlpt.multitask",),
    ("mvlpt.cli", "mvlpt.__main__"),
]


def layer_of(module):
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > len(best[1])):
                best = (i, n)
    return best[0]


def modules():
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                yield (rel[:-len(".__init__")] if rel.endswith(".__init__") else rel), path


def imports(module, path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    is_pkg = path.endswith("__init__.py")
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod, node.lineno
            for a in node.names:  # "from mvlpt import engine"
                yield f"{mod}.{a.name}", node.lineno


def violations():
    bad = []
    for module, path in modules():
        mine = layer_of(module)
        for target, line in imports(module, path):
            if target != "mvlpt" and not target.startswith("mvlpt."):
                continue
            if target == "mvlpt" or layer_of(target) <= mine:
                continue
            # "from mvlpt.x import name": only the module part counts when name is not a submodule
            mod_part = target.rsplit(".", 1)[0]
            if not os.path.exists(os.path.join(REPO, *target.split(".")) + ".py") and \
                    not os.path.isdir(os.path.join(REPO, *target.split("."))) and layer_of(mod_part) <= mine:
                continue
            bad.append(f"{os.path.relpath(path, REPO)}:{line}: {module} (layer {mine}) imports {target} "
                       f"(layer {layer_of(target)})")
    return bad


def test_no_lower_layer_imports_a_higher_one():
    bad = sorted(set(violations()))
    print("\n".join(["layers (bottom → top): " + " < ".join("/".join(n) for n in LAYERS)] + bad))
    assert not bad, "\n".join(bad)


def test_data_modules_have_no_cycle():
    graph = {}
    for module, path in modules():
        if module.startswith("mvlpt.data"):
            graph[module] = {t for t, _ in imports(module, path) if t.startswith("mvlpt.data.") and t != module
                             and t in dict(modules())}
    graph = {m: {t for t in ts if t in graph and not m.startswith(t + ".")} for m, ts in graph.items()}
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
        if m in seen:
            return
        stack.append(m)
        for t in sorted(graph[m]):
            if t != "mvlpt.data":  # the package __init__ re-exports its modules
                visit(t)
        stack.pop()
        seen.add(m)

    for m in sorted(graph):
        if m != "mvlpt.data":
            visit(m)
