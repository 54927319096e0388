"""The front door: runtime requirements without test tools, a CPU-only path that cannot pick CUDA wheels,
and CI still installing pytest."""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lines(name):
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return [ln.split("#")[0].strip() for ln in f if ln.split("#")[0].strip()]


def pins(name):
    return dict(re.match(r"^([A-Za-z0-9_.-]+)==(.+)$", ln).groups() for ln in lines(name) if "==" in ln)


def test_runtime_requirements_have_no_test_tools():
    assert "pytest" not in pins("requirements.txt")
    setup = open(os.path.join(REPO, "setup.py"), encoding="utf-8").read()
    install = setup.split("install_requires=")[1].split("]")[0]
    assert "pytest" not in install and '"test": ["pytest' in setup


def test_test_requirements_add_pytest_and_ci_installs_them():
    assert "-r requirements.txt" in lines("requirements-test.txt") and "pytest" in pins("requirements-test.txt")
    ci = open(os.path.join(REPO, ".ci", "run"), encoding="utf-8").read()
    assert "requirements-test.txt" in ci and "pytest" in ci


def test_cpu_requirements_pin_cpu_builds_of_the_same_versions():
    cpu, runtime = pins("requirements-cpu.txt"), pins("requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines("requirements-cpu.txt")
    assert "-r requirements.txt" in lines("requirements-cpu.txt")
    for pkg in ("torch", "torchvision"):
        assert cpu[pkg] == runtime[pkg] + "+cpu"  # only the CPU index has these: no CUDA from PyPI
