"""DataError: bad user data, reported as one line naming the file, the line and the fix."""


class DataError(ValueError):
  """Bad user input; the message is one line naming the file, the line and the fix."""
