import sys

__version__ = "2.0.0"
USER_AGENT = f"speedpix-python/{__version__} (python {sys.version.split()[0]})"
