from setuptools import find_packages, setup

setup(
    name="mvlpt",
    version="0.1.0",
    description="Prompt tuning of frozen CLIP models (CoOp, CoCoOp, VPT, UPT, MaPLe) and the MVLPT multitask recipe",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mvlpt", "mvlpt.*"]),
    package_data={"mvlpt.clip": ["model_configs/*.json", "weights/*.pt"]},
    include_package_data=True,
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "open_clip_torch>=2.24",
        "yacs>=0.1.8",
        "tqdm>=4.60",
        "gdown>=4.7",
        "tensorboard>=2.10",
        "matplotlib>=3.5",
        "numpy>=1.22",
        "pillow>=9.0",
    ],
    extras_require={"test": ["pytest>=7"]},  # pip install -e .[test]; CPU-only torch: requirements-cpu.txt
    entry_points={"console_scripts": ["mvlpt=mvlpt.cli:main"]},
)
