package dev.nann.graph;

/** A snapshot file that must not be served: wrong magic or version, truncated, corrupt or inconsistent. */
public final class SnapshotException extends RuntimeException {
  public SnapshotException(String message) {
    super(message);
  }

  public SnapshotException(String message, Throwable cause) {
    super(message, cause);
  }
}
