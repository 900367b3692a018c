"""Build and install the shmkv Python package with setuptools.

    pip install --no-build-isolation bindings/python   (offline: use the
                                                        installed setuptools)
    python3 setup.py install                            (older setuptools)

The extension links the library's static archive, build/libshmkv.a of the
source tree around this directory, which `make lib` makes (this script
runs it when the archive is missing).  `make python` builds the same
package without setuptools.
"""
import glob
import os
import re
import subprocess

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
os.chdir(here)  # setuptools takes the paths below from the current directory
archive = os.path.join(root, "build", "libshmkv.a")
if not os.path.exists(archive):
    subprocess.run(["make", "-C", root, "lib"], check=True)

extension = Extension(
    "shmkv._shmkv",
    sources=sorted(os.path.relpath(p, here) for p in glob.glob(os.path.join(here, "src", "*.c"))),
    include_dirs=[os.path.join(root, "include")],
    extra_objects=[archive],
    extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-fvisibility=hidden", "-Wall", "-Wextra",
                        "-Werror", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes"],
    extra_link_args=["-pthread", "-Wl,--exclude-libs,ALL"],
    depends=glob.glob(os.path.join(here, "src", "*.h")) + [archive],
)

setup(
    name="shmkv",
    version=re.search(r'#define SHMKV_VERSION_STRING "(.*)"',
                      open(os.path.join(root, "include", "shmkv.h")).read()).group(1),
    description="A hash table of bytes in shared memory, for many processes (shmkv)",
    license="MIT",
    packages=["shmkv"],
    package_data={"shmkv": ["__init__.pyi", "py.typed"]},
    ext_modules=[extension],
    python_requires=">=3.8",
)
