"""User-facing errors. The CLI prints `error: <message>` and exits with `exit_code`."""


class ConvcError(Exception):
    """An error caused by the user's model, options or environment (exit code 2)."""

    exit_code = 2


class ModelError(ConvcError):
    """The ONNX file cannot be read, is inconsistent or is hostile."""


class UnsupportedError(ConvcError):
    """The model uses something convc does not support (op, attribute, dtype)."""


class ToolchainError(ConvcError):
    """A compiler, emulator or library that a target needs is missing."""


class UsageError(ConvcError):
    """Bad command-line options or data files."""
